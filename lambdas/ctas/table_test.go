package ctas

import (
	"errors"
	"strings"
	"testing"
)

func TestCompatible_NamesEveryChangedColumn(t *testing.T) {
	table := cols("department string", "users bigint")
	for _, tc := range []struct {
		name string
		got  []string
		want []string // substrings of the error; nil means compatible
	}{
		{"same", []string{"department string", "users bigint"}, nil},
		{"same, other case", []string{"Department STRING", "users BIGINT"}, nil},
		{"extra column", []string{"department string", "users bigint", "sessions bigint"}, []string{"new column sessions bigint"}},
		{"missing column", []string{"department string"}, []string{"missing column users bigint"}},
		{"changed type", []string{"department string", "users int"}, []string{"column users changed type from bigint to int"}},
		{"reordered", []string{"users bigint", "department string"}, []string{"reordered", "(department, users)", "(users, department)"}},
		{"renamed", []string{"dept string", "users bigint"}, []string{"new column dept string", "missing column department string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := compatible("kpi_x", table, cols(tc.got...))
			if tc.want == nil {
				if err != nil {
					t.Errorf("compatible: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrIncompatibleSchema) {
				t.Fatalf("error = %v, want ErrIncompatibleSchema", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// A column named twice (as a Glue table or a query's output might, after lowercasing) is a
// difference, never a crash nor a match.
func TestCompatible_ColumnNamedTwice(t *testing.T) {
	for _, tc := range []struct {
		name       string
		table, got []string
		want       string
	}{
		{"in the table", []string{"department string", "users bigint", "users bigint"}, []string{"department string", "users bigint"},
			"the KPI table has column users twice"},
		{"in the query's output", []string{"department string", "users bigint"}, []string{"department string", "Users bigint", "users bigint"},
			"the query's output has column users twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := compatible("kpi_x", cols(tc.table...), cols(tc.got...))
			if !errors.Is(err, ErrIncompatibleSchema) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want ErrIncompatibleSchema naming %q", err, tc.want)
			}
		})
	}
}
