package aggregate

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// StateKeys maps each incremental table to its primary key columns.
type StateKeys map[queries.SourceTable][]string

// Env is the value of contract.EnvStateKeys: a JSON object, its keys sorted.
func (k StateKeys) Env() string {
	m := make(map[string][]string, len(k))
	for t, cols := range k {
		m[t.String()] = cols
	}
	b, _ := json.Marshal(m) // a map of strings to strings always encodes, keys sorted
	return string(b)
}

// ParseStateKeys reads the value of contract.EnvStateKeys; empty is no table.
func ParseStateKeys(s string) (StateKeys, error) {
	keys := StateKeys{}
	if s == "" {
		return keys, nil
	}
	var m map[string][]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf(`%s is not {"<source>.<table>": ["<column>", ...]}: %w`, contract.EnvStateKeys, err)
	}
	var errs []error
	for name, cols := range m {
		src, table, ok := strings.Cut(name, ".")
		if !ok || layout.ValidateName("source", src) != nil || layout.ValidateName("table", table) != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not <source>.<table>", contract.EnvStateKeys, name))
			continue
		}
		if len(cols) == 0 || slices.Contains(cols, "") {
			errs = append(errs, fmt.Errorf("%s: %s: give its primary key as one or more column names", contract.EnvStateKeys, name))
			continue
		}
		keys[queries.SourceTable{Source: src, Table: table}] = cols
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return keys, nil
}

// list names the tables, for messages.
func (k StateKeys) list() string {
	if len(k) == 0 {
		return "none"
	}
	var s []string
	for t := range k {
		s = append(s, t.String())
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}
