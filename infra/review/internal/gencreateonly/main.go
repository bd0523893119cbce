// Command gencreateonly writes createonly.json, the create-only properties of every CloudFormation
// resource type (a change to one replaces the resource), from the resource provider schemas that
// cfn-lint ships. `go generate ./infra/review` runs it after a cfn-lint upgrade.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// providerType matches a line of cfn-lint's providers/<region>.py: "AWS::S3::Bucket": "<schema file>",
var providerType = regexp.MustCompile(`"([A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+)":\s*"([0-9a-f]+)"`)

func main() {
	schemas := flag.String("schemas", "", "cfn-lint's data/schemas directory (default: found through python3)")
	out := flag.String("o", "createonly.json", "file to write")
	flag.Parse()
	if err := run(*schemas, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gencreateonly:", err)
		os.Exit(1)
	}
}

func run(schemas, out string) error {
	if schemas == "" {
		dir, err := exec.Command("python3", "-c", "import cfnlint, os; print(os.path.dirname(cfnlint.__file__))").Output()
		if err != nil {
			return fmt.Errorf("locate cfn-lint (pip install cfn-lint, or give -schemas): %w", err)
		}
		schemas = filepath.Join(strings.TrimSpace(string(dir)), "data", "schemas")
	}
	providers, err := filepath.Glob(filepath.Join(schemas, "providers", "*.py"))
	if err != nil || len(providers) == 0 {
		return fmt.Errorf("no provider lists in %s/providers", schemas)
	}
	files := map[string]map[string]bool{}
	for _, p := range providers {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range providerType.FindAllStringSubmatch(string(data), -1) {
			if files[m[1]] == nil {
				files[m[1]] = map[string]bool{}
			}
			files[m[1]][m[2]] = true
		}
	}
	table := map[string][]string{}
	for typ, hashes := range files {
		set := map[string]bool{}
		for h := range hashes {
			data, err := os.ReadFile(filepath.Join(schemas, "resources", h+".json"))
			if err != nil {
				return fmt.Errorf("schema of %s: %w", typ, err)
			}
			var s struct {
				CreateOnlyProperties []string `json:"createOnlyProperties"`
			}
			if err := json.Unmarshal(data, &s); err != nil {
				return fmt.Errorf("schema of %s: %w", typ, err)
			}
			for _, p := range s.CreateOnlyProperties {
				set[p] = true
			}
		}
		props := make([]string, 0, len(set))
		for p := range set {
			props = append(props, p)
		}
		sort.Strings(props)
		table[typ] = props
	}
	types := make([]string, 0, len(table))
	for t := range table {
		types = append(types, t)
	}
	sort.Strings(types)
	// One type per line, so that a regeneration reads as a diff of the types that changed.
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, t := range types {
		k, _ := json.Marshal(t)
		v, _ := json.Marshal(table[t])
		fmt.Fprintf(&b, "%s: %s", k, v)
		if i < len(types)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return os.WriteFile(out, b.Bytes(), 0o644)
}
