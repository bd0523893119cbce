package queries_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// kpiFile is a KPI file with a valid header around body.
func kpiFile(name, dependsOn, sources, body string) string {
	return fmt.Sprintf("-- name: %s\n-- description: test KPI %s\n-- depends_on: %s\n-- sources: %s\n%s\n",
		name, name, dependsOn, sources, body)
}

// parseErr parses files and returns the error's text, failing the test if there is none.
func parseErr(t *testing.T, files map[string]string) string {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	c, err := queries.Parse(fsys)
	if err == nil {
		t.Fatalf("Parse succeeded with KPIs %v; want an error", c.Names())
	}
	return err.Error()
}

func mustParse(t *testing.T, files map[string]string) *queries.Catalog {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	c, err := queries.Parse(fsys)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func wantContains(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("error does not contain %q:\n%s", w, got)
		}
	}
}

// TestLoad_EmbeddedCatalogDeclaresEveryKPI holds for whatever KPIs queries/ has: a new KPI is
// files only, and no test lists the KPIs by hand.
func TestLoad_EmbeddedCatalogDeclaresEveryKPI(t *testing.T) {
	c, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".sql"); ok && !e.IsDir() {
			files = append(files, name)
		}
	}
	if len(files) == 0 {
		t.Fatal("queries/ has no .sql file")
	}
	// The state nodes are the tables read with {{ state }}: social.posts, by reactions_given_received.
	files = append(files, layout.StateName("social", "posts"))
	slices.Sort(files)
	if diff := cmp.Diff(files, c.Names()); diff != "" {
		t.Errorf("Names() against the .sql files of queries/ and the state nodes, sorted (-files +names):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"state_social_posts"}, c.States()); diff != "" {
		t.Errorf("States() (-want +got):\n%s", diff)
	}
	seen := map[queries.SourceTable]bool{}
	for _, n := range c.Names() {
		k, ok := c.KPI(n)
		if !ok {
			t.Fatalf("KPI(%q) not found", n)
		}
		if st, ok := k.StateOf(); ok {
			if k.Name != layout.StateName(st.Source, st.Table) || !slices.Equal(k.Sources, []queries.SourceTable{st}) || len(k.DependsOn) > 0 {
				t.Errorf("state node %q: Name %q, Sources %v, DependsOn %v; want its name, its table, no dependency", n, k.Name, k.Sources, k.DependsOn)
			}
		} else if k.Name != n || k.File != "queries/"+n+".sql" {
			t.Errorf("KPI(%q) has Name %q and File %q, want the name and queries/%s.sql", n, k.Name, k.File, n)
		}
		if k.Description == "" {
			t.Errorf("%s has no description", n)
		}
		if k.Lookback < 1 || k.Lookback > queries.MaxWindowDays {
			t.Errorf("%s has Lookback %d, want 1 to %d", n, k.Lookback, queries.MaxWindowDays)
		}
		if len(k.Sources) == 0 && len(k.DependsOn) == 0 {
			t.Errorf("%s reads neither a source nor a KPI", n)
		}
		for _, d := range k.DependsOn {
			if _, ok := c.KPI(d); !ok {
				t.Errorf("%s depends on %q, which is not a KPI", n, d)
			}
		}
		for _, s := range k.Sources {
			seen[s] = true
		}
	}
	var want []queries.SourceTable
	for s := range seen {
		want = append(want, s)
	}
	got := c.Sources()
	if len(got) != len(want) {
		t.Errorf("Sources() = %v, want the %d tables that the KPIs read", got, len(want))
	}
	for i, s := range got {
		if !seen[s] {
			t.Errorf("Sources() has %v, which no KPI reads", s)
		}
		if i > 0 && !(got[i-1].String() < s.String()) {
			t.Errorf("Sources() is not sorted or repeats: %v before %v", got[i-1], s)
		}
	}
	if _, ok := c.KPI("nope"); ok {
		t.Error(`KPI("nope") found`)
	}
}

// The infra validates the catalog against each environment at synth; this is the same check, so
// that a KPI reading a table an environment lacks fails `go test` already.
func TestLoad_CatalogReadsOnlyTablesEveryEnvironmentInCDKJSONHas(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(file.Context[config.ContextKey])
	if err != nil {
		t.Fatal(err)
	}
	c, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cfg.Names() {
		env := cfg.Environments[name]
		known := queries.Sources{}
		for _, s := range env.Sources {
			for _, tb := range s.Tables {
				known.Add(s.Name, tb.Name)
			}
		}
		for _, l := range env.LogStreams {
			known.Add(layout.AppLogsSource, l.Name)
		}
		if err := c.Validate(known); err != nil {
			t.Errorf("environment %s: %v", name, err)
		}
	}
}

func TestValidate_ReportsEverySourceTheEnvironmentLacks(t *testing.T) {
	c := mustParse(t, map[string]string{
		"a.sql": kpiFile("a", "", "social.posts, app_logs.web_access",
			`SELECT 1 AS x FROM {{ source "social" "posts" }} AS p JOIN {{ source "app_logs" "web_access" }} AS l ON true`),
	})
	err := c.Validate(queries.NewSources(queries.SourceTable{Source: "social", Table: "users"}))
	if err == nil {
		t.Fatal("Validate succeeded; want an error")
	}
	wantContains(t, err.Error(),
		`a.sql: kpi "a" reads social.posts, which this environment does not have (it has social.users)`,
		`a.sql: kpi "a" reads app_logs.web_access`)
	if err := c.Validate(queries.NewSources(
		queries.SourceTable{Source: "social", Table: "posts"}, queries.LogStream("web_access"))); err != nil {
		t.Errorf("Validate with both tables: %v", err)
	}
	err = c.Validate(nil)
	if err == nil || !strings.Contains(err.Error(), "it has no sources") {
		t.Errorf("Validate(nil) = %v; want a message that the environment has no sources", err)
	}
}

func TestParse_Header(t *testing.T) {
	const body = `SELECT p.id FROM {{ source "social" "posts" }} AS p`
	tests := []struct {
		name string
		file string // the content of k.sql
		want []string
	}{
		{"minimal", "-- name: k\n-- description: d\n-- sources: social.posts\n" + body, nil},
		{"keys in any order, empty depends_on, continuation, notes",
			"-- sources: social.posts\n-- depends_on:\n-- description: first line\n--   second line\n-- name: k\n--\n-- free notes: anything\n" + body, nil},
		{"CRLF line endings", "-- name: k\r\n-- description: d\r\n-- sources: social.posts\r\n" + body, nil},
		{"no header", body, []string{"k.sql:1: the header has no name", "k.sql:1: the header has no description"}},
		{"no description", "-- name: k\n-- sources: social.posts\n" + body, []string{"k.sql:1: the header has no description"}},
		{"empty name", "-- name:\n-- description: d\n-- sources: social.posts\n" + body, []string{"k.sql:1: name is empty"}},
		{"name not snake_case", "-- name: Daily-Users\n-- description: d\n-- sources: social.posts\n" + body,
			[]string{`k.sql:1: KPI name "Daily-Users" is not snake_case`, `such as "daily_users"`}},
		{"name differs from file", "-- name: other\n-- description: d\n-- sources: social.posts\n" + body,
			[]string{`k.sql:1: name "other" does not match the file name; name the file other.sql or the KPI "k"`}},
		{"unknown key", "-- name: k\n-- descripton: d\n-- sources: social.posts\n" + body,
			[]string{`k.sql:2: unknown header key "descripton"; use name, description, depends_on, sources`}},
		{"duplicate key", "-- name: k\n-- description: d\n-- name: k\n-- sources: social.posts\n" + body,
			[]string{`k.sql:3: header key "name" is given twice (first on line 1)`}},
		{"not key: value", "-- name: k\n-- description: d\n-- this is prose\n-- sources: social.posts\n" + body,
			[]string{`k.sql:3: header line "-- this is prose" is not "-- key: value"`}},
		{"continuation first", "--   stray\n-- name: k\n-- description: d\n-- sources: social.posts\n" + body,
			[]string{"k.sql:1: indented header line continues no key"}},
		{"source without table", "-- name: k\n-- description: d\n-- sources: posts\n" + body,
			[]string{`k.sql:3: sources: "posts" is not <source>.<table>`}},
		{"source with two dots", "-- name: k\n-- description: d\n-- sources: social.posts.x\n" + body,
			[]string{`k.sql:3: sources: "social.posts.x" is not <source>.<table>`}},
		{"bad source name", "-- name: k\n-- description: d\n-- sources: Social.posts\n" + body,
			[]string{`k.sql:3: sources: source name "Social" is not snake_case`}},
		{"empty list item", "-- name: k\n-- description: d\n-- depends_on: a,,b\n-- sources: social.posts\n" + body,
			[]string{"k.sql:3: depends_on has an empty item"}},
		{"duplicate source", "-- name: k\n-- description: d\n-- sources: social.posts, social.posts\n" + body,
			[]string{"k.sql:3: sources lists social.posts twice"}},
		{"duplicate dependency", "-- name: k\n-- description: d\n-- depends_on: a, a\n-- sources: social.posts\n" + body,
			[]string{`k.sql:3: depends_on lists "a" twice`}},
		{"reads nothing", "-- name: k\n-- description: d\nSELECT 1 AS one",
			[]string{"k.sql:1: the header lists neither sources nor depends_on"}},
		{"every problem at once", "-- name: K\n-- sources: posts\n" + body,
			[]string{`k.sql:1: KPI name "K" is not snake_case`, "k.sql:1: the header has no description", `k.sql:2: sources: "posts"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"k.sql": {Data: []byte(tt.file)}}
			c, err := queries.Parse(fsys)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				k, _ := c.KPI("k")
				if k == nil || k.Description == "" {
					t.Fatalf("KPI k = %+v", k)
				}
				return
			}
			if err == nil {
				t.Fatal("Parse succeeded; want an error")
			}
			wantContains(t, err.Error(), tt.want...)
		})
	}
}

func TestParse_JoinsContinuationLinesOfTheDescription(t *testing.T) {
	c := mustParse(t, map[string]string{"k.sql": "-- name: k\n-- description: Daily users\n--   per department.\n-- sources: social.posts\n" +
		`SELECT p.id FROM {{ source "social" "posts" }} AS p`})
	k, _ := c.KPI("k")
	if k.Description != "Daily users per department." {
		t.Errorf("Description = %q", k.Description)
	}
}

func TestParse_FailsWithoutKPIFiles(t *testing.T) {
	_, err := queries.Parse(fstest.MapFS{"README.md": {Data: []byte("# no KPIs")}, "testdata/x.sql": {Data: []byte("x")}})
	if err == nil || !strings.Contains(err.Error(), "no KPI files") {
		t.Errorf("Parse = %v; want a message that there are no KPI files", err)
	}
}

func TestParse_RejectsDuplicateNamesAcrossFiles(t *testing.T) {
	// Two files cannot both be a.sql, so a duplicate name shows up as a name/file mismatch.
	got := parseErr(t, map[string]string{
		"a.sql": kpiFile("a", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts" }} AS p`),
		"b.sql": kpiFile("a", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts" }} AS p`),
	})
	wantContains(t, got, `b.sql:1: name "a" does not match the file name`)
}

func TestParse_RejectsUnknownDependency(t *testing.T) {
	got := parseErr(t, map[string]string{
		"a.sql": kpiFile("a", "missing", "", `SELECT m.x FROM {{ kpi "missing" }} AS m`),
		"b.sql": kpiFile("b", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts" }} AS p`),
	})
	wantContains(t, got, `a.sql: kpi "a" depends on "missing", which is not in the catalog (a, b); add missing.sql or fix depends_on`)
}

func TestParse_NamesEveryDependencyCycle(t *testing.T) {
	got := parseErr(t, map[string]string{
		"a.sql": kpiFile("a", "c", "", `SELECT c.x FROM {{ kpi "c" }} AS c`),
		"b.sql": kpiFile("b", "a", "", `SELECT a.x FROM {{ kpi "a" }} AS a`),
		"c.sql": kpiFile("c", "b", "social.posts", `SELECT b.x FROM {{ kpi "b" }} AS b JOIN {{ source "social" "posts" }} AS p ON true`),
		"d.sql": kpiFile("d", "e", "", `SELECT e.x FROM {{ kpi "e" }} AS e`),
		"e.sql": kpiFile("e", "d", "", `SELECT d.x FROM {{ kpi "d" }} AS d`),
	})
	wantContains(t, got,
		"dependency cycle: a -> c -> b -> a (a.sql, c.sql, b.sql)",
		"dependency cycle: d -> e -> d (d.sql, e.sql)")
	if n := strings.Count(got, "dependency cycle"); n != 2 {
		t.Errorf("%d cycles reported; want each of the 2 once:\n%s", n, got)
	}
}

func TestParse_RejectsAKPIThatReadsItself(t *testing.T) {
	got := parseErr(t, map[string]string{
		"a.sql": kpiFile("a", "a", "", `SELECT a.x FROM {{ kpi_window "a" 2 }} AS a`),
	})
	wantContains(t, got, `a.sql:5: the query reads its own KPI "a"`, "dependency cycle: a -> a (a.sql)")
}

func TestParse_HeaderAndQueryMustNameTheSameTables(t *testing.T) {
	tests := []struct {
		name, deps, sources, body string
		want                      []string
	}{
		{"source read but not declared", "", "social.users",
			`SELECT u.id FROM {{ source "social" "users" }} AS u JOIN {{ source "social" "posts" }} AS p ON p.user_id = u.id`,
			[]string{"a.sql:5: the query reads source social.posts, which the header does not list; add it to sources"}},
		{"source declared but not read", "", "social.users, social.posts",
			`SELECT u.id FROM {{ source "social" "users" }} AS u`,
			[]string{"a.sql:4: the header lists source social.posts, which the query never reads; remove it from sources"}},
		{"KPI read but not declared", "", "social.users",
			`SELECT u.id FROM {{ source "social" "users" }} AS u JOIN {{ kpi "b" }} AS b ON true`,
			[]string{`a.sql:5: the query reads KPI "b", which the header does not list; add it to depends_on`}},
		{"KPI declared but not read", "b", "social.users",
			`SELECT u.id FROM {{ source "social" "users" }} AS u`,
			[]string{`a.sql:3: the header lists "b" in depends_on, which the query never reads`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErr(t, map[string]string{
				"a.sql": kpiFile("a", tt.deps, tt.sources, tt.body),
				"b.sql": kpiFile("b", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts" }} AS p`),
			})
			wantContains(t, got, tt.want...)
		})
	}
}

// A query that would scan every partition of a table is rejected, naming the file and the table
// and saying how to read it.
func TestParse_RejectsTablesReadWithoutTheirPartitionFilter(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"bare table", `SELECT p.id FROM social_posts AS p`,
			[]string{`a.sql:5: table "social_posts" is read without its partition filter; reference it as {{ source "social" "posts" }}, or define a CTE named social_posts`}},
		{"qualified", `SELECT p.id FROM kpilake_prod.social_posts p`,
			[]string{`table "kpilake_prod.social_posts" is read without its partition filter; reference it as {{ source "social" "posts" }}`}},
		{"quoted and qualified", `SELECT p.id FROM "kpilake_prod"."social_posts" p`,
			[]string{`table "kpilake_prod.social_posts"`}},
		{"KPI table", `SELECT k.x FROM kpi_engagement_score AS k`,
			[]string{`table "kpi_engagement_score" is read without its partition filter; reference it as {{ kpi "engagement_score" }}`}},
		{"log stream", `SELECT l.x FROM app_logs_web_access AS l`,
			[]string{`reference it as {{ source "app_logs" "web_access" }}`}},
		{"in a join", `SELECT p.id FROM {{ source "social" "posts" }} AS p LEFT OUTER JOIN social_users u ON u.id = p.user_id`,
			[]string{`table "social_users" is read without its partition filter`}},
		{"after a comma", `SELECT p.id FROM {{ source "social" "posts" }} AS p, social_users AS u WHERE u.id = p.user_id`,
			[]string{`table "social_users"`}},
		{"in a subquery", `SELECT p.id FROM {{ source "social" "posts" }} AS p WHERE p.user_id IN (SELECT id FROM social_users)`,
			[]string{`table "social_users"`}},
		{"in EXISTS", `SELECT p.id FROM {{ source "social" "posts" }} AS p WHERE EXISTS (SELECT 1 FROM social_users u WHERE u.id = p.user_id)`,
			[]string{`table "social_users"`}},
		{"in a CTE", "WITH u AS (SELECT id FROM social_users)\nSELECT p.id FROM {{ source \"social\" \"posts\" }} AS p JOIN u ON u.id = p.user_id",
			[]string{`a.sql:5: table "social_users"`}},
		{"in a parenthesized join", `SELECT p.id FROM (social_users u JOIN {{ source "social" "posts" }} p ON u.id = p.user_id)`,
			[]string{`table "social_users"`}},
		{"second in a parenthesized join", `SELECT p.id FROM ({{ source "social" "posts" }} p JOIN social_users u ON u.id = p.user_id)`,
			[]string{`table "social_users"`}},
		{"inside EXTRACT's subquery", `SELECT EXTRACT(YEAR FROM (SELECT max(created_at) FROM social_users)) AS y FROM {{ source "social" "posts" }} AS p`,
			[]string{`table "social_users"`}},
		{"DuckDB FROM-first", `SELECT p.id FROM {{ source "social" "posts" }} AS p WHERE p.id IN (FROM social_users SELECT id)`,
			[]string{`table "social_users"`}},
		{"TABLE", `SELECT p.id FROM {{ source "social" "posts" }} AS p UNION ALL TABLE social_users`,
			[]string{"TABLE reads a table without its partition filter"}},
		{"table function", `SELECT x.id FROM read_parquet('s3://raw/social/posts/*/*.parquet') AS x JOIN {{ source "social" "posts" }} p ON true`,
			[]string{"table function read_parquet(...) reads data without its partition filter"}},
		{"file path", `SELECT x.id FROM 's3://raw/social/posts/x.parquet' AS x JOIN {{ source "social" "posts" }} p ON true`,
			[]string{`'s3://raw/social/posts/x.parquet' where a table was expected`}},
		{"day function as a table", `SELECT p.id FROM {{ day_start }} AS p JOIN {{ source "social" "posts" }} q ON true`,
			[]string{"{{ day_start }} is not a table"}},
		{"table function outside FROM", `SELECT {{ source "social" "users" }} AS u, p.id FROM {{ source "social" "posts" }} AS p`,
			[]string{`{{ source "social" "users" }} reads a table; put it after FROM or JOIN`}},
		{"ends after FROM", `SELECT p.id FROM {{ source "social" "posts" }} AS p JOIN`,
			[]string{"the query ends where a table was expected"}},
		{"CTE name used as a schema", "WITH social AS (SELECT 1 AS x)\nSELECT p.id FROM social.users p JOIN {{ source \"social\" \"posts\" }} q ON true",
			[]string{`table "social.users"`}},
		{"not a SELECT", `DELETE FROM social_posts`,
			[]string{`a.sql:5: the query starts with "DELETE"; a KPI file holds one SELECT`}},
		{"unbalanced", `SELECT p.id FROM {{ source "social" "posts" }} AS p)`,
			[]string{"')' without a matching '('"}},
		{"unclosed", `SELECT (p.id FROM {{ source "social" "posts" }} AS p`,
			[]string{"'(' is never closed with ')'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErr(t, map[string]string{
				"a.sql": kpiFile("a", "", "social.posts, social.users", tt.body),
			})
			wantContains(t, got, tt.want...)
			if strings.Contains(tt.want[0], "partition filter") && !strings.Contains(got, "a.sql") {
				t.Errorf("the message does not name the file: %s", got)
			}
		})
	}
}

func TestParse_AcceptsEveryWayOfReadingThroughTemplates(t *testing.T) {
	bodies := map[string]string{
		"comma join":          `SELECT p.id FROM {{ source "social" "posts" }} AS p, {{ source "social" "users" }} u WHERE u.id = p.user_id`,
		"CTEs, quoted, upper": "WITH \"Users\" (id) AS (SELECT u.id FROM {{ source \"social\" \"users\" }} u), posts AS (SELECT * FROM {{ source \"social\" \"posts\" }})\nSELECT p.id FROM posts p JOIN users ON users.id = p.user_id",
		"recursive CTE":       `WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT p.id FROM {{ source "social" "posts" }} p, {{ source "social" "users" }} u, r`,
		"subquery in FROM":    `SELECT q.id FROM (SELECT p.id FROM {{ source "social" "posts" }} AS p) AS q JOIN {{ source "social" "users" }} u ON true`,
		"parenthesized join":  `SELECT p.id FROM ({{ source "social" "posts" }} p JOIN {{ source "social" "users" }} u ON u.id = p.user_id)`,
		"FROM inside calls":   `SELECT EXTRACT(HOUR FROM p.created_at) AS h, substring(p.body FROM 2 FOR 3) AS s, trim(BOTH 'x' FROM p.body) AS t FROM {{ source "social" "posts" }} p JOIN {{ source "social" "users" }} u ON u.id IS NOT DISTINCT FROM p.user_id`,
		"UNNEST and LATERAL":  `SELECT p.id, x FROM {{ source "social" "posts" }} p CROSS JOIN UNNEST(ARRAY[1, 2]) WITH ORDINALITY AS t (x, n) JOIN LATERAL (SELECT u.id FROM {{ source "social" "users" }} u WHERE u.id = p.user_id) AS l ON true`,
		"VALUES":              `SELECT v.a FROM (VALUES (1, 'x'), (2, 'y')) AS v (a, b) JOIN {{ source "social" "posts" }} p ON p.id = v.a JOIN {{ source "social" "users" }} u ON true`,
		"comments and text":   "SELECT -- FROM social_posts in a comment\n'FROM social_users' AS s /* FROM x */, p.\"from\" FROM {{ source \"social\" \"posts\" }} p JOIN {{ source \"social\" \"users\" }} u ON true",
		"windows and days":    `SELECT p.id FROM {{ source_window "social" "posts" 7 }} p JOIN {{ source "social" "users" }} u ON p.created_at >= {{ day_start -6 }} AND p.created_at < {{ day_end }} AND u.joined_on <= {{ day }}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			mustParse(t, map[string]string{"a.sql": kpiFile("a", "", "social.posts, social.users", body)})
		})
	}
}

func TestParse_RejectsNonPortableOrAmbiguousSQL(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"semicolon", `SELECT p.id FROM {{ source "social" "posts" }} p; DROP TABLE social_posts`, "a.sql:5: semicolon"},
		{"trailing semicolon", `SELECT p.id FROM {{ source "social" "posts" }} p;`, "semicolon"},
		{"parameter", `SELECT p.id FROM {{ source "social" "posts" }} p WHERE p.id = ?`, "query parameters are not supported"},
		{"dollar parameter", `SELECT p.id FROM {{ source "social" "posts" }} p WHERE p.id = $1`, "query parameters are not supported"},
		{"DuckDB cast", `SELECT p.id::VARCHAR AS id FROM {{ source "social" "posts" }} p`, "'::' casts are DuckDB-only"},
		{"E string", `SELECT E'\'' AS x FROM {{ source "social" "posts" }} p`, "E'...' escape strings are DuckDB-only"},
		{"backquote", "SELECT `id` FROM {{ source \"social\" \"posts\" }} p", "backquote"},
		{"nested comment", `SELECT /* a /* b */ FROM social_users */ p.id FROM {{ source "social" "posts" }} p`, "nested block comment"},
		{"unclosed comment", `SELECT p.id FROM {{ source "social" "posts" }} p /* open`, "block comment /* is never closed"},
		{"unclosed string", `SELECT 'abc FROM {{ source "social" "posts" }} p`, "string literal starting here is never closed"},
		{"unclosed quoted identifier", `SELECT "abc FROM {{ source "social" "posts" }} p`, "quoted identifier"},
		{"template in a string", `SELECT '{{ day }}' AS d FROM {{ source "social" "posts" }} p`, "template call inside a string literal"},
		{"template in a comment", "SELECT p.id -- {{ day }}\nFROM {{ source \"social\" \"posts\" }} p", "template call inside a comment"},
		{"template in an identifier", `SELECT p."{{ day }}" FROM {{ source "social" "posts" }} p`, "template call inside a quoted identifier"},
		{"unclosed template", `SELECT p.id FROM {{ source "social" "posts" p`, "template call {{ is not closed with }} on the same line"},
		{"stray closing braces", `SELECT p.id }} FROM {{ source "social" "posts" }} p`, "}} without a matching {{"},
		{"non-ASCII identifier", `SELECT p.id AS 件数 FROM {{ source "social" "posts" }} p`, "non-ASCII character outside a string literal"},
		{"output column dt", `SELECT p.id, '2026-01-01' AS dt FROM {{ source "social" "posts" }} p`, `a column or alias is named "dt"`},
		{"quoted output column dt", `SELECT p.id AS "DT" FROM {{ source "social" "posts" }} p`, `named "dt"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErr(t, map[string]string{"a.sql": kpiFile("a", "", "social.posts", tt.body)})
			wantContains(t, got, tt.want)
		})
	}
}

func TestParse_RejectsMalformedTemplateCalls(t *testing.T) {
	tests := []struct{ name, call, want string }{
		{"unknown function", `{{ table "social" "posts" }}`, `unknown template function "table"; use one of source, source_window, events, events_window, state, kpi, kpi_window, day, day_start, day_end`},
		{"events of a database table", `{{ events "social" "posts" }}`, `reads log streams by event time, and "social" is not "app_logs"; read a database table with source or source_window; write it as {{ events "app_logs" "<stream>" }}`},
		{"events window of zero days", `{{ events_window "app_logs" "web_access" 0 }}`, "argument 3 must be a number of days from 1 to 366"},
		{"Go template syntax", `{{ .Day }}`, `".Day" is not a template function`},
		{"pipeline", `{{ source "social" "posts" | printf }}`, "argument | is neither"},
		{"empty", `{{ }}`, "empty template call"},
		{"too few arguments", `{{ source "social" }}`, `{{ source "social" }}: takes 2 arguments, not 1; write it as {{ source "<source>" "<table>" }}`},
		{"too many arguments", `{{ source "social" "posts" 7 }}`, "takes 2 arguments, not 3"},
		{"number for a name", `{{ source 1 "posts" }}`, "argument 1 must be the source name in double quotes"},
		{"window of zero days", `{{ source_window "social" "posts" 0 }}`, "argument 3 must be a number of days from 1 to 366"},
		{"window too long", `{{ source_window "social" "posts" 400 }}`, "from 1 to 366"},
		{"window without days", `{{ source_window "social" "posts" "7" }}`, "argument 3 must be a number of days"},
		{"huge number", `{{ source_window "social" "posts" 99999999999999999999 }}`, "neither a \"string\" nor a small integer"},
		{"unclosed argument", `{{ source "social" "posts }}`, "string argument is never closed"},
		{"arguments run together", `{{ source "social""posts" }}`, "put a space between arguments"},
		{"name not snake_case", `{{ source "Social" "posts" }}`, `source name "Social" is not snake_case`},
		{"day_start with a name", `{{ day_start "x" }}`, "the argument must be a number of days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `SELECT p.id FROM ` + tt.call + ` AS p`
			if strings.Contains(tt.call, "day_start") {
				body = `SELECT p.id FROM {{ source "social" "posts" }} AS p WHERE p.created_at >= ` + tt.call
			}
			got := parseErr(t, map[string]string{"a.sql": kpiFile("a", "", "social.posts", body)})
			wantContains(t, got, "a.sql:5: ", tt.want)
		})
	}
}

// Nothing from a header or a template call reaches the SQL unvalidated: names are snake_case,
// so quotes, semicolons and comments cannot get through.
func TestParse_RejectsInjectionAttempts(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"in the header name",
			"-- name: x\"; DROP TABLE y; --\n-- description: d\n-- sources: social.posts\nSELECT p.id FROM {{ source \"social\" \"posts\" }} p",
			`KPI name "x\"; DROP TABLE y; --" is not snake_case`},
		{"in the header sources",
			"-- name: a\n-- description: d\n-- sources: social.posts\"; DROP TABLE y; --\nSELECT p.id FROM {{ source \"social\" \"posts\" }} p",
			`is not snake_case`},
		{"in depends_on",
			"-- name: a\n-- description: d\n-- depends_on: b' OR '1'='1\n-- sources: social.posts\nSELECT p.id FROM {{ source \"social\" \"posts\" }} p",
			`is not snake_case`},
		{"in a source call",
			kpiFile("a", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts\" WHERE 1=1 --" }} p`),
			"a.sql:5: "},
		{"quote in a table name",
			kpiFile("a", "", "social.posts", `SELECT p.id FROM {{ source "social" "x'; DROP TABLE y; --" }} p`),
			`table name "x'; DROP TABLE y; --" is not snake_case`},
		{"in a kpi call",
			kpiFile("a", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts" }} p JOIN {{ kpi "x\"; DROP TABLE y; --" }} k ON true`),
			"a.sql:5: "},
		{"space in a kpi name",
			kpiFile("a", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts" }} p JOIN {{ kpi "a b" }} k ON true`),
			`KPI name "a b" is not snake_case`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErr(t, map[string]string{"a.sql": tt.file})
			wantContains(t, got, tt.want)
		})
	}
}

func TestWaves(t *testing.T) {
	// a, b <- c <- e;  b <- d <- e;  f alone.  (x <- y: y depends on x)
	c := mustParse(t, map[string]string{
		"a.sql": kpiFile("a", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts" }} p`),
		"b.sql": kpiFile("b", "", "social.users", `SELECT u.id FROM {{ source "social" "users" }} u`),
		"c.sql": kpiFile("c", "a, b", "", `SELECT a.id FROM {{ kpi "a" }} a JOIN {{ kpi "b" }} b ON a.id = b.id`),
		"d.sql": kpiFile("d", "b", "", `SELECT b.id FROM {{ kpi_window "b" 7 }} b`),
		"e.sql": kpiFile("e", "c, d", "", `SELECT c.id FROM {{ kpi "c" }} c JOIN {{ kpi "d" }} d ON c.id = d.id`),
		"f.sql": kpiFile("f", "", "social.posts", `SELECT p.id FROM {{ source "social" "posts" }} p`),
	})
	tests := []struct {
		name string
		kpis []string
		want [][]string
	}{
		{"all", nil, [][]string{{"a", "b", "f"}, {"c", "d"}, {"e"}}},
		{"empty means all", []string{}, [][]string{{"a", "b", "f"}, {"c", "d"}, {"e"}}},
		{"a root and its dependents", []string{"a"}, [][]string{{"a"}, {"c"}, {"e"}}},
		{"b and its dependents", []string{"b"}, [][]string{{"b"}, {"c", "d"}, {"e"}}},
		{"a leaf", []string{"e"}, [][]string{{"e"}}},
		{"a middle KPI starts the first wave", []string{"d"}, [][]string{{"d"}, {"e"}}},
		{"several, in any order, repeated", []string{"f", "d", "a", "d"}, [][]string{{"a", "d", "f"}, {"c"}, {"e"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Waves(tt.kpis)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Waves(%v) (-want +got):\n%s", tt.kpis, diff)
			}
		})
	}
	_, err := c.Waves([]string{"a", "zz", "yy"})
	if err == nil {
		t.Fatal("Waves with unknown names succeeded")
	}
	wantContains(t, err.Error(), `unknown KPI "zz", "yy"; the catalog has a, b, c, d, e, f`)
}

// TestWaves_EmbeddedCatalogOrdersEveryKPIAfterItsInputs holds for whatever KPIs queries/ has:
// every KPI once, each after the KPIs it reads and as early as they allow, and a changed KPI
// brings exactly its dependents along.
func TestWaves_EmbeddedCatalogOrdersEveryKPIAfterItsInputs(t *testing.T) {
	c, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.Waves(nil)
	if err != nil {
		t.Fatal(err)
	}
	wave := map[string]int{}
	for i, w := range all {
		for _, n := range w {
			if _, dup := wave[n]; dup {
				t.Errorf("%s is in more than one wave", n)
			}
			wave[n] = i
		}
	}
	if len(wave) != len(c.Names()) {
		t.Errorf("Waves(nil) holds %d KPIs, the catalog %d", len(wave), len(c.Names()))
	}
	dependents := map[string][]string{}
	for _, n := range c.Names() {
		k, _ := c.KPI(n)
		latest := -1
		for _, d := range k.DependsOn {
			dependents[d] = append(dependents[d], n)
			if wave[d] >= wave[n] {
				t.Errorf("%s (wave %d) depends on %s (wave %d), which does not run before it", n, wave[n], d, wave[d])
			}
			latest = max(latest, wave[d])
		}
		if wave[n] != latest+1 {
			t.Errorf("%s runs in wave %d; its inputs allow wave %d", n, wave[n], latest+1)
		}
	}
	for _, n := range c.Names() {
		want := map[string]bool{n: true}
		for todo := []string{n}; len(todo) > 0; todo = todo[1:] {
			for _, d := range dependents[todo[0]] {
				if !want[d] {
					want[d] = true
					todo = append(todo, d)
				}
			}
		}
		got, err := c.Waves([]string{n})
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, w := range got {
			for _, k := range w {
				have[k] = true
			}
		}
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("Waves([%s]): want it and its dependents (-want +got):\n%s", n, diff)
		}
	}
}

func TestCatalog_NamesReturnsASortedCopy(t *testing.T) {
	c, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	names := c.Names()
	names[0] = "changed"
	if c.Names()[0] == "changed" {
		t.Error("Names shares its slice with the catalog")
	}
}
