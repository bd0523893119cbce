package extract

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/layout"
)

func validSpec() SourceSpec {
	return SourceSpec{
		Name: "social", Engine: MySQL, TimeZone: "Asia/Tokyo",
		Tables: []TableSpec{
			{Name: "users", Exclude: []string{"password_hash"}, Hash: []string{"email"}},
			{Name: "posts", Mode: Incremental, TimestampColumn: "updated_at"},
		},
	}
}

func TestSourceSpec_ValidateAcceptsAGoodSpec(t *testing.T) {
	s := validSpec()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSourceSpec_ValidateListsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		edit func(*SourceSpec)
		want []string
	}{
		{"empty", func(s *SourceSpec) { *s = SourceSpec{} }, []string{
			"Name: source name is empty",
			`Engine is required; set "mysql" or "postgresql"`,
			`TimeZone is required; give the business time zone, such as "Asia/Tokyo"`,
			"Tables: give at least one table to extract",
		}},
		{"bad names and zones", func(s *SourceSpec) {
			s.Name, s.Engine, s.Database = "Social-DB", "oracle", "a;b"
			s.TimeZone, s.StoredTimeZone = "Tokyo", "Local"
		}, []string{
			`Name: source name "Social-DB" is not snake_case`,
			`Engine: "oracle" is not supported; use "mysql" (Aurora MySQL) or "postgresql" (Aurora PostgreSQL)`,
			`Database: "a;b" is not a database name`,
			`TimeZone: "Tokyo" is not an IANA time zone; use one such as "Asia/Tokyo"`,
			`StoredTimeZone: "Local" is not an IANA time zone`,
		}},
		{"reserved name", func(s *SourceSpec) { s.Name = layout.AppLogsSource }, []string{
			`Name: "app_logs" is reserved for Firehose log streams`,
		}},
		{"table problems", func(s *SourceSpec) {
			s.Tables = []TableSpec{
				{Name: "users", Mode: "full"},
				{Name: "posts", Mode: Incremental},
				{Name: "users", TimestampColumn: "updated_at"},
				{Name: "", Exclude: []string{"a", "a", ""}, Hash: []string{"a", "b", "b"}},
			}
		}, []string{
			`Tables[0] (users): Mode: "full" is not a mode; use "snapshot" or "incremental"`,
			`Tables[1] (posts): TimestampColumn is required for Mode "incremental"; name the table's last-changed column, such as "updated_at"`,
			`Tables[2].Name: "users" is already Tables[0]; list each table once`,
			`Tables[2] (users): TimestampColumn is only used by incremental tables; remove it or set Mode "incremental"`,
			`Tables[3] (): Name: table name is empty`,
			`Tables[3] (): Exclude[1]: "a" is listed twice; list it once`,
			`Tables[3] (): Exclude[2]: "" is not a column name`,
			`Tables[3] (): Hash[0]: "a" is also in Exclude; an excluded column is not exported, so remove it from one of the lists`,
			`Tables[3] (): Hash[2]: "b" is listed twice; list it once`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.edit(&s)
			err := s.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseSourceSpec_RoundTripsTheInfraJSON(t *testing.T) {
	raw := `{"name":"social","engine":"postgresql","database":"app","timeZone":"Asia/Tokyo",
		"storedTimeZone":"UTC","tables":[{"name":"users","exclude":["password_hash"],"hash":["email"]},
		{"name":"posts","mode":"incremental","timestampColumn":"updated_at"}]}`
	got, err := ParseSourceSpec([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := SourceSpec{Name: "social", Engine: PostgreSQL, Database: "app", TimeZone: "Asia/Tokyo", StoredTimeZone: "UTC",
		Tables: []TableSpec{
			{Name: "users", Exclude: []string{"password_hash"}, Hash: []string{"email"}},
			{Name: "posts", Mode: Incremental, TimestampColumn: "updated_at"},
		}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	again, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := ParseSourceSpec(again); err != nil || !cmp.Equal(back, got) {
		t.Errorf("re-encoded spec does not round-trip: %v\n%s", err, again)
	}
}

func TestParseSourceSpec_RejectsUnknownKeysAndInvalidSpecs(t *testing.T) {
	for raw, want := range map[string]string{
		`{"name":"social","engine":"mysql","timeZone":"UTC","tables":[{"name":"t","excludes":["a"]}]}`: `unknown field "excludes"`,
		`{"name":"social","engine":"mysql","timeZone":"UTC","tables":[]}`:                              "Tables: give at least one table",
		`[]`: "source spec is not valid JSON for SourceSpec",
	} {
		if _, err := ParseSourceSpec([]byte(raw)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSourceSpec(%s) = %v, want an error mentioning %q", raw, err, want)
		}
	}
}

func TestObjectKey_IsTheTablePartitionPlusTheTableFile(t *testing.T) {
	d, err := layout.ParseDay("2026-11-24")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ObjectKey("social", "users", d), "social/users/dt=2026-11-24/users.parquet"; got != want {
		t.Errorf("ObjectKey = %q, want %q", got, want)
	}
}

func TestRequestAndResult_JSONShape(t *testing.T) {
	var req Request
	if err := json.Unmarshal([]byte(`{"source": "social", "table": "users", "date": "2026-11-24"}`), &req); err != nil {
		t.Fatal(err)
	}
	if req != (Request{Source: "social", Table: "users", Date: "2026-11-24"}) {
		t.Errorf("request = %+v", req)
	}
	raw, err := json.Marshal(Result{Source: "social", Table: "users", Date: "2026-11-24", Key: "k", Rows: 3, Bytes: 10, DurationMs: 5, Mode: Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"source":"social","table":"users","date":"2026-11-24","key":"k","rows":3,"bytes":10,"durationMs":5,"mode":"snapshot"}`
	if string(raw) != want {
		t.Errorf("result JSON = %s, want %s", raw, want)
	}
}

func TestNew_ValidatesConfig(t *testing.T) {
	_, err := New(Config{Source: validSpec(), PartSize: 1 << 20, RowGroupRows: -1}, stubSecrets{}, newMemS3())
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		"Bucket is required",
		"SecretID is required",
		"RootCAs is required",
		"Salt: a table hashes columns, so give a secret salt of at least 16 bytes",
		"must not be negative",
		"PartSize: 1048576 bytes is below S3's minimum part size",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

func TestFetchSalt_RequiresALongEnoughSecret(t *testing.T) {
	salt, err := FetchSalt(context.Background(), stubSecrets{"0123456789abcdef"}, "arn:salt")
	if err != nil || string(salt) != "0123456789abcdef" {
		t.Errorf("FetchSalt = %q, %v", salt, err)
	}
	_, err = FetchSalt(context.Background(), stubSecrets{"short-secret"}, "arn:salt")
	if err == nil || strings.Contains(err.Error(), "short-secret") || !strings.Contains(err.Error(), "at least 16 random bytes") {
		t.Errorf("short salt: err = %v; want a message that names the rule but not the value", err)
	}
}
