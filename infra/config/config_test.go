package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/config"
	aggregate "github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/queries"
)

// sameZone compares locations by name: *time.Location has no exported fields.
var sameZone = cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() })

// dev wraps the body of one environment object in a complete "kpilake" value.
func dev(body string) string {
	return `{"environments": {"dev": {` + body + `}}}`
}

const region = `"region": "ap-northeast-1"`

// source is the configuration that the minimal source JSON of these tests parses to.
func source(name string, engine config.Engine) config.Source {
	return config.Source{
		Name:             name,
		Engine:           engine,
		SecretArn:        "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf",
		StoredTimeZone:   "UTC",
		Schedule:         config.DefaultSchedule,
		MaxConcurrency:   4,
		MemoryMB:         1024,
		SubnetIDs:        []string{"subnet-0123456789abcdef0"},
		SecurityGroupIDs: []string{"sg-0123456789abcdef0"},
		Tables:           []config.Table{{Name: "users", Mode: config.Snapshot}},
	}
}

// mustParse parses JSON text that must be a valid configuration.
func mustParse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.FromJSON([]byte(text))
	if err != nil {
		t.Fatalf("FromJSON(%s) failed: %v", text, err)
	}
	return cfg
}

// problems parses JSON text that must be invalid and returns the problems it reports.
func problems(t *testing.T, text string) []string {
	t.Helper()
	cfg, err := config.FromJSON([]byte(text))
	if err == nil {
		t.Fatalf("FromJSON(%s) = %+v, want an error", text, cfg)
	}
	if cfg != nil {
		t.Errorf("FromJSON(%s) returned a config along with the error: %+v", text, cfg)
	}
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("FromJSON(%s) error is %T (%v), want *config.Error", text, err, err)
	}
	return cerr.Problems
}

// defaults is the environment that {"region": "ap-northeast-1"} yields.
func defaults() *config.Environment {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		panic(err)
	}
	return &config.Environment{
		Name:             "dev",
		Region:           "ap-northeast-1",
		TimeZone:         "Asia/Tokyo",
		Location:         tokyo,
		RemovalPolicy:    config.Retain,
		LogRetentionDays: 90,
		Lake: config.Lake{
			RawInfrequentAccessAfterDays:     30,
			RawGlacierAfterDays:              90,
			NoncurrentVersionExpireAfterDays: 30,
			QueryResultsExpireAfterDays:      7,
			AccessLogsExpireAfterDays:        365,
			BackupRetentionDays:              365,
		},
		Athena: config.Athena{
			BytesScannedCutoffPerQuery: 100 << 30,
			ActiveQueryQuota:           20,
			ReservedQueries:            5,
		},
		Aggregate:    config.Aggregate{LookbackDays: 31, SupersededRunGraceHours: 6},
		Backfill:     config.Backfill{MaxConcurrency: 10, MaxDays: 1096, MaxMessageAgeHours: 72},
		Observe:      config.Observe{FreshnessLagHours: 36, LambdaErrorsThreshold: 1},
		LogCrawlTime: config.DefaultLogCrawlTime,
	}
}

func TestParse_AppliesDefaultsWhenOptionalKeysAreAbsent(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"only region", region},
		{"empty nested objects", region + `, "lake": {}, "athena": {}, "aggregate": {}, "backfill": {}, "observe": {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, dev(tt.body))
			if diff := cmp.Diff(map[string]*config.Environment{"dev": defaults()}, cfg.Environments, sameZone); diff != "" {
				t.Errorf("environments (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParse_ReadsEveryKey(t *testing.T) {
	cfg := mustParse(t, `{"environments": {"stg": {
		"region": "us-gov-west-1",
		"account": "123456789012",
		"timeZone": "America/New_York",
		"production": true,
		"removalPolicy": "retain",
		"logRetentionDays": 3653,
		"alarmEmail": "ops@example.com",
		"lake": {
			"rawInfrequentAccessAfterDays": 45,
			"rawGlacierAfterDays": 75,
			"noncurrentVersionExpireAfterDays": 14,
			"queryResultsExpireAfterDays": 2,
			"accessLogsExpireAfterDays": 400,
			"protection": true,
			"backupRetentionDays": 730,
			"breakGlassRoleArn": "arn:aws:iam::123456789012:role/kpilake-break-glass"
		},
		"athena": {"bytesScannedCutoffPerQuery": 10000000, "activeQueryQuota": 50, "reservedQueries": 8},
		"aggregate": {"lookbackDays": 7, "supersededRunGraceHours": 24},
		"backfill": {"maxConcurrency": 42, "maxDays": 30, "maxMessageAgeHours": 12},
		"observe": {"freshnessLagHours": 48, "lambdaErrorsThreshold": 3},
		"sources": [{"name": "sales_db", "engine": "postgresql", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}, {"name": "social", "engine": "mysql", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}],
		"logStreams": [{"name": "web_access"}, {"name": "api2"}],
		"logCrawlTime": "01:05"
	}}}`)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*config.Environment{"stg": {
		Name:             "stg",
		Account:          "123456789012",
		Region:           "us-gov-west-1",
		TimeZone:         "America/New_York",
		Location:         ny,
		Production:       true,
		RemovalPolicy:    config.Retain,
		LogRetentionDays: 3653,
		AlarmEmail:       "ops@example.com",
		Lake: config.Lake{
			RawInfrequentAccessAfterDays:     45,
			RawGlacierAfterDays:              75,
			NoncurrentVersionExpireAfterDays: 14,
			QueryResultsExpireAfterDays:      2,
			AccessLogsExpireAfterDays:        400,
			Protection:                       true,
			BackupRetentionDays:              730,
			BreakGlassRoleArn:                "arn:aws:iam::123456789012:role/kpilake-break-glass",
		},
		Athena:       config.Athena{BytesScannedCutoffPerQuery: 10_000_000, ActiveQueryQuota: 50, ReservedQueries: 8},
		Aggregate:    config.Aggregate{LookbackDays: 7, SupersededRunGraceHours: 24},
		Backfill:     config.Backfill{MaxConcurrency: 42, MaxDays: 30, MaxMessageAgeHours: 12},
		Observe:      config.Observe{FreshnessLagHours: 48, LambdaErrorsThreshold: 3},
		Sources:      []config.Source{source("sales_db", config.PostgreSQL), source("social", config.MySQL)},
		LogStreams:   []config.LogStream{{Name: "web_access"}, {Name: "api2"}},
		LogCrawlTime: "01:05",
	}}
	if diff := cmp.Diff(want, cfg.Environments, sameZone); diff != "" {
		t.Errorf("environments (-want +got):\n%s", diff)
	}
}

func TestParse_AcceptsBoundaryValues(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{"commercial region", dev(`"region": "eu-central-1"`)},
		{"GovCloud region", dev(`"region": "us-gov-east-1"`)},
		{"China region", dev(`"region": "cn-northwest-1"`)},
		{"ISO region", dev(`"region": "us-isob-east-1"`)},
		{"UTC time zone", dev(region + `, "timeZone": "UTC"`)},
		{"production that retains", dev(region + `, "production": true, "removalPolicy": "retain"`)},
		{"non-production that destroys", dev(region + `, "production": false, "removalPolicy": "destroy"`)},
		{"shortest log retention", dev(region + `, "logRetentionDays": 1`)},
		{"longest log retention", dev(region + `, "logRetentionDays": 3653`)},
		{"number written with exponent", dev(region + `, "logRetentionDays": 1.8e2`)},
		{"Glacier exactly 30 days after IA", dev(region + `, "lake": {"rawInfrequentAccessAfterDays": 30, "rawGlacierAfterDays": 60}`)},
		{"lowest scan cutoff", dev(region + `, "athena": {"bytesScannedCutoffPerQuery": 10000000}`)},
		{"no reserved queries", dev(region + `, "athena": {"activeQueryQuota": 20, "reservedQueries": 0}, "backfill": {"maxConcurrency": 20}`)},
		{"concurrency equal to headroom", dev(region + `, "athena": {"activeQueryQuota": 20, "reservedQueries": 5}, "backfill": {"maxConcurrency": 15}`)},
		{"lowest concurrency", dev(region + `, "athena": {"activeQueryQuota": 20, "reservedQueries": 18}, "backfill": {"maxConcurrency": 2}`)},
		{"shortest backfill message age", dev(region + `, "backfill": {"maxMessageAgeHours": 1}`)},
		{"shortest superseded run grace", dev(region + `, "aggregate": {"supersededRunGraceHours": 2}`)},
		{"longest superseded run grace", dev(region + `, "aggregate": {"supersededRunGraceHours": 720}`)},
		{"backfill message age a day before retention", dev(region + `, "backfill": {"maxMessageAgeHours": 312}`)},
		{"shortest freshness lag", dev(region + `, "observe": {"freshnessLagHours": 25}`)},
		{"shortest lookback", dev(region + `, "aggregate": {"lookbackDays": 1}`)},
		{"longest lookback", dev(region + `, "aggregate": {"lookbackDays": 92}`)},
		{"longest freshness lag", dev(region + `, "observe": {"freshnessLagHours": 168}`)},
		{"lowest Lambda errors threshold", dev(region + `, "observe": {"lambdaErrorsThreshold": 1}`)},
		{"highest Lambda errors threshold", dev(region + `, "observe": {"lambdaErrorsThreshold": 100000}`)},
		{"empty sources and streams", dev(region + `, "sources": [], "logStreams": []`)},
		{"earliest log crawl", dev(region + `, "logStreams": [{"name": "web"}], "logCrawlTime": "00:15"`)},
		{"latest log crawl", dev(region + `, "logStreams": [{"name": "web"}], "logCrawlTime": "23:00"`)},
		{"source and stream sharing a name", dev(region + `, "sources": [{"name": "web", "engine": "mysql", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}], "logStreams": [{"name": "web"}]`)},
		{"environment name with digits and hyphen", `{"environments": {"dev-2": {"region": "ap-northeast-1"}}}`},
		{"environment name of 20 characters", `{"environments": {"abcdefghijklmnopqrst": {"region": "ap-northeast-1"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if cfg := mustParse(t, tt.text); len(cfg.Environments) != 1 {
				t.Errorf("got environments %v, want one", cfg.Names())
			}
		})
	}
}

func TestParse_DefaultsBackfillConcurrencyToAthenaHeadroom(t *testing.T) {
	tests := []struct {
		name   string
		athena string
		want   int
	}{
		{"large headroom caps at 10", `{"activeQueryQuota": 100, "reservedQueries": 0}`, 10},
		{"default quota", `{}`, 10},
		{"small headroom", `{"activeQueryQuota": 8, "reservedQueries": 5}`, 3},
		{"headroom of two", `{"activeQueryQuota": 7, "reservedQueries": 5}`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, dev(region+`, "athena": `+tt.athena))
			if got := cfg.Environments["dev"].Backfill.MaxConcurrency; got != tt.want {
				t.Errorf("Backfill.MaxConcurrency = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParse_FailsOnInvalidValue(t *testing.T) {
	const env = "kpilake.environments.dev"
	tests := []struct {
		name string
		text string
		// key is the full key the single problem must name.
		key string
		// fix holds fragments the message must contain: the bad value and what to do instead.
		fix []string
	}{
		{"missing kpilake", `null`, "kpilake", []string{"is missing", `"kpilake": {"environments"`}},
		{"kpilake not an object", `["dev"]`, "kpilake", []string{"must be a JSON object, got an array"}},
		{"no environments key", `{}`, "kpilake.environments", []string{"at least one environment", `"dev": {"region"`}},
		{"empty environments", `{"environments": {}}`, "kpilake.environments", []string{"at least one environment"}},
		{"environments not an object", `{"environments": []}`, "kpilake.environments", []string{"must be a JSON object, got an array"}},
		{"unknown top-level key", `{"environments": {"dev": {` + region + `}}, "stacks": 1}`,
			"kpilake.stacks", []string{"unknown key; remove it or use one of: delivery, environments"}},
		{"capitalised environment name", `{"environments": {"Prod": {` + region + `}}}`,
			"kpilake.environments.Prod", []string{"lowercase letters, digits and -", "such as dev, prod"}},
		{"environment name with leading digit", `{"environments": {"1dev": {` + region + `}}}`,
			"kpilake.environments.1dev", []string{"starting with a letter"}},
		{"environment name over 20 characters", `{"environments": {"abcdefghijklmnopqrstu": {` + region + `}}}`,
			"kpilake.environments.abcdefghijklmnopqrstu", []string{"at most 20 characters"}},
		{"environment not an object", `{"environments": {"dev": "ap-northeast-1"}}`,
			env, []string{`must be a JSON object, got string "ap-northeast-1"`}},

		{"missing region", dev(``), env + ".region", []string{"is required", `"ap-northeast-1"`}},
		{"empty region", dev(`"region": ""`), env + ".region", []string{"must not be empty", `"ap-northeast-1"`}},
		{"region as a city", dev(`"region": "Tokyo"`), env + ".region", []string{`"Tokyo" is not an AWS region`, `"ap-northeast-1"`}},
		{"region without number", dev(`"region": "ap-northeast"`), env + ".region", []string{`"ap-northeast" is not an AWS region`}},
		{"availability zone as region", dev(`"region": "ap-northeast-1a"`), env + ".region", []string{`"ap-northeast-1a" is not an AWS region`}},
		{"account too short", dev(region + `, "account": "12345678901"`), env + ".account",
			[]string{`"12345678901" is not a 12-digit AWS account ID`, "remove the key"}},
		{"account with letters", dev(region + `, "account": "12345678901a"`), env + ".account", []string{"12-digit"}},
		{"account as number", dev(region + `, "account": 123456789012`), env + ".account", []string{"must be a string, got number"}},
		{"misspelt time zone", dev(region + `, "timeZone": "Asia/Tokio"`), env + ".timeZone",
			[]string{`"Asia/Tokio" is not an IANA time zone`, `"Asia/Tokyo"`}},
		{"Local time zone", dev(region + `, "timeZone": "Local"`), env + ".timeZone", []string{`"Local" is not an IANA time zone`}},
		{"empty time zone", dev(region + `, "timeZone": ""`), env + ".timeZone", []string{`"" is not an IANA time zone`}},
		{"production that destroys", dev(region + `, "production": true, "removalPolicy": "destroy"`), env + ".removalPolicy",
			[]string{"production environment must keep its data", `set "retain"`}},
		{"unknown removal policy", dev(region + `, "removalPolicy": "delete"`), env + ".removalPolicy",
			[]string{`"delete" is not a removal policy`, `"retain" or "destroy"`}},
		{"production not a boolean", dev(region + `, "production": "yes"`), env + ".production",
			[]string{`must be true or false, got string "yes"`}},
		{"log retention not offered by CloudWatch", dev(region + `, "logRetentionDays": 10`), env + ".logRetentionDays",
			[]string{"10 is not a CloudWatch Logs retention", "90", "3653"}},
		{"log retention zero", dev(region + `, "logRetentionDays": 0`), env + ".logRetentionDays", []string{"must be between 1 and 3653, got 0"}},
		{"log retention as string", dev(region + `, "logRetentionDays": "90"`), env + ".logRetentionDays",
			[]string{`must be a number, got string "90"`}},
		{"log retention not whole", dev(region + `, "logRetentionDays": 30.5`), env + ".logRetentionDays",
			[]string{"must be a whole number, got 30.5"}},
		{"alarm email without domain", dev(region + `, "alarmEmail": "data-alerts"`), env + ".alarmEmail",
			[]string{`"data-alerts" is not an e-mail address`, "data-alerts@example.com"}},
		{"alarm email with display name", dev(region + `, "alarmEmail": "Alerts <data-alerts@example.com>"`), env + ".alarmEmail",
			[]string{"is not an e-mail address", "plain address"}},

		{"lake not an object", dev(region + `, "lake": []`), env + ".lake", []string{"must be a JSON object, got an array"}},
		{"IA transition under S3 minimum", dev(region + `, "lake": {"rawInfrequentAccessAfterDays": 29}`),
			env + ".lake.rawInfrequentAccessAfterDays", []string{"must be between 30 and 36500, got 29"}},
		{"Glacier too soon after default IA", dev(region + `, "lake": {"rawGlacierAfterDays": 59}`),
			env + ".lake.rawGlacierAfterDays", []string{"at least 30 days after rawInfrequentAccessAfterDays (30)", "set it to 60 or more"}},
		{"Glacier too soon after given IA", dev(region + `, "lake": {"rawInfrequentAccessAfterDays": 80, "rawGlacierAfterDays": 100}`),
			env + ".lake.rawGlacierAfterDays", []string{"(80)", "set it to 110 or more"}},
		{"query results kept over a year", dev(region + `, "lake": {"queryResultsExpireAfterDays": 366}`),
			env + ".lake.queryResultsExpireAfterDays", []string{"must be between 1 and 365, got 366"}},
		{"noncurrent expiry as string", dev(region + `, "lake": {"noncurrentVersionExpireAfterDays": "30"}`),
			env + ".lake.noncurrentVersionExpireAfterDays", []string{`must be a number, got string "30"`}},
		{"earliest backfill day not a day", dev(region + `, "backfill": {"earliestDay": "2024-02-30"}`),
			env + ".backfill.earliestDay", []string{`"2024-02-30"`, `such as "2024-04-01"`}},
		{"backups kept less than the continuous window", dev(region + `, "lake": {"backupRetentionDays": 34}`),
			env + ".lake.backupRetentionDays", []string{"between 35 and 36500"}},
		{"break-glass role not a role ARN", dev(region + `, "lake": {"breakGlassRoleArn": "arn:aws:iam::123456789012:user/admin"}`),
			env + ".lake.breakGlassRoleArn", []string{"is not an IAM role ARN", "arn:aws:iam::<account>:role/<name>"}},
		{"protection with destroy", dev(region + `, "removalPolicy": "destroy", "lake": {"protection": true}`),
			env + ".lake.protection", []string{"cannot be emptied on destroy", `"protection": false`}},
		{"unknown lake key", dev(region + `, "lake": {"rawGlacierDays": 90}`), env + ".lake.rawGlacierDays",
			[]string{"unknown key; remove it or use one of: accessLogsExpireAfterDays, backupRetentionDays, breakGlassRoleArn, " +
				"noncurrentVersionExpireAfterDays, protection, queryResultsExpireAfterDays, rawGlacierAfterDays, rawInfrequentAccessAfterDays"}},

		{"scan cutoff under Athena minimum", dev(region + `, "athena": {"bytesScannedCutoffPerQuery": 9999999}`),
			env + ".athena.bytesScannedCutoffPerQuery", []string{"must be between 10000000 and", "got 9999999"}},
		{"scan cutoff not whole", dev(region + `, "athena": {"bytesScannedCutoffPerQuery": 10000000.5}`),
			env + ".athena.bytesScannedCutoffPerQuery", []string{"must be a whole number"}},
		{"reserved queries above quota", dev(region + `, "athena": {"activeQueryQuota": 20, "reservedQueries": 25}`),
			env + ".athena.reservedQueries", []string{"must leave at least 2 of activeQueryQuota (20) to backfill; set it to 18 or less"}},
		{"reserved queries equal to quota", dev(region + `, "athena": {"activeQueryQuota": 20, "reservedQueries": 20}`),
			env + ".athena.reservedQueries", []string{"set it to 18 or less"}},
		{"one query left for backfill", dev(region + `, "athena": {"activeQueryQuota": 6, "reservedQueries": 5}`),
			env + ".athena.reservedQueries", []string{"must leave at least 2 of activeQueryQuota (6)", "set it to 4 or less"}},
		{"huge number", dev(region + `, "athena": {"bytesScannedCutoffPerQuery": 1e19}`),
			env + ".athena.bytesScannedCutoffPerQuery", []string{"got 10000000000000000000"}},
		{"region not a string", dev(`"region": 5`), env + ".region", []string{"must be a string, got number 5"}},
		{"quota as boolean", dev(region + `, "athena": {"activeQueryQuota": true}`),
			env + ".athena.activeQueryQuota", []string{"must be a number, got boolean true"}},

		{"superseded run grace shorter than a query", dev(region + `, "aggregate": {"supersededRunGraceHours": 1}`),
			env + ".aggregate.supersededRunGraceHours", []string{"must be between 2 and 720, got 1"}},
		{"unknown aggregate key", dev(region + `, "aggregate": {"graceHours": 6}`), env + ".aggregate.graceHours",
			[]string{"unknown key; remove it or use one of: lookbackDays, supersededRunGraceHours"}},

		{"backfill concurrency of one", dev(region + `, "backfill": {"maxConcurrency": 1}`),
			env + ".backfill.maxConcurrency", []string{"must be between 2 and 1000, got 1"}},
		{"backfill concurrency above headroom", dev(region + `, "backfill": {"maxConcurrency": 16}`),
			env + ".backfill.maxConcurrency", []string{"16 is above the Athena headroom", "20 - athena.reservedQueries 5 = 15", "lower it or raise the quota"}},
		{"backfill concurrency above given headroom", dev(region + `, "athena": {"activeQueryQuota": 30, "reservedQueries": 10}, "backfill": {"maxConcurrency": 21}`),
			env + ".backfill.maxConcurrency", []string{"21 is above the Athena headroom", "= 20"}},
		{"backfill days not whole", dev(region + `, "backfill": {"maxDays": 1.5}`),
			env + ".backfill.maxDays", []string{"must be a whole number, got 1.5"}},
		{"backfill days zero", dev(region + `, "backfill": {"maxDays": 0}`),
			env + ".backfill.maxDays", []string{"must be between 1 and 36600, got 0"}},
		{"backfill message age zero", dev(region + `, "backfill": {"maxMessageAgeHours": 0}`),
			env + ".backfill.maxMessageAgeHours", []string{"must be between 1 and", "got 0"}},
		{"backfill message age not whole", dev(region + `, "backfill": {"maxMessageAgeHours": 1.5}`),
			env + ".backfill.maxMessageAgeHours", []string{"must be a whole number, got 1.5"}},
		{"backfill message age within the last day of retention", dev(region + `, "backfill": {"maxMessageAgeHours": 313}`),
			env + ".backfill.maxMessageAgeHours", []string{"313 hours would alarm too late", "deletes a job after 14 days", "set it to 312 or less"}},
		{"backfill message age past retention", dev(region + `, "backfill": {"maxMessageAgeHours": 1000}`),
			env + ".backfill.maxMessageAgeHours", []string{"1000 hours", "set it to 312 or less"}},

		{"observe not an object", dev(region + `, "observe": 36`), env + ".observe", []string{"must be a JSON object, got number 36"}},
		{"lookback of zero days", dev(region + `, "aggregate": {"lookbackDays": 0}`),
			env + ".aggregate.lookbackDays", []string{"must be between 1 and 92", "got 0"}},
		{"lookback beyond a quarter", dev(region + `, "aggregate": {"lookbackDays": 365}`),
			env + ".aggregate.lookbackDays", []string{"must be between 1 and 92", "got 365"}},
		{"unknown aggregate key", dev(region + `, "aggregate": {"lookback": 7}`),
			env + ".aggregate.lookback", []string{"unknown key", "lookbackDays"}},
		{"freshness lag of a day", dev(region + `, "observe": {"freshnessLagHours": 24}`),
			env + ".observe.freshnessLagHours", []string{"24 hours would alarm every day", "publishes each KPI once a day", "set it to 25 or more"}},
		{"freshness lag of zero", dev(region + `, "observe": {"freshnessLagHours": 0}`),
			env + ".observe.freshnessLagHours", []string{"must be between 1 and", "got 0"}},
		{"freshness lag beyond a week", dev(region + `, "observe": {"freshnessLagHours": 169}`),
			env + ".observe.freshnessLagHours", []string{"169 hours is beyond what CloudWatch can evaluate", "7 days", "set it to 168 or less"}},
		{"freshness lag not whole", dev(region + `, "observe": {"freshnessLagHours": 36.5}`),
			env + ".observe.freshnessLagHours", []string{"must be a whole number, got 36.5"}},
		{"freshness lag as string", dev(region + `, "observe": {"freshnessLagHours": "36"}`),
			env + ".observe.freshnessLagHours", []string{`must be a number, got string "36"`}},
		{"Lambda errors threshold of zero", dev(region + `, "observe": {"lambdaErrorsThreshold": 0}`),
			env + ".observe.lambdaErrorsThreshold", []string{"must be between 1 and 100000, got 0"}},
		{"Lambda errors threshold not whole", dev(region + `, "observe": {"lambdaErrorsThreshold": 2.5}`),
			env + ".observe.lambdaErrorsThreshold", []string{"must be a whole number, got 2.5"}},

		{"sources not an array", dev(region + `, "sources": {"name": "social"}`), env + ".sources", []string{"must be a JSON array, got an object"}},
		{"source not an object", dev(region + `, "sources": ["social"]`), env + ".sources[0]", []string{`must be a JSON object, got string "social"`}},
		{"source without name", dev(region + `, "sources": [{"engine": "mysql", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}]`), env + ".sources[0].name",
			[]string{"is required", `"sales_db"`}},
		{"source with empty name", dev(region + `, "sources": [{"name": "", "engine": "mysql", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}]`), env + ".sources[0].name",
			[]string{"must not be empty"}},
		{"source without engine", dev(region + `, "sources": [{"name": "social", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}]`), env + ".sources[0].engine",
			[]string{"is required", `"mysql" or "postgresql"`}},
		{"source with unsupported engine", dev(region + `, "sources": [{"name": "social", "engine": "oracle", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}]`), env + ".sources[0].engine",
			[]string{`"oracle" is not supported`, `"mysql"`, `"postgresql"`}},
		{"source name not snake_case", dev(region + `, "sources": [{"name": "Sales-DB", "engine": "mysql", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}]`), env + ".sources[0].name",
			[]string{`source name "Sales-DB" is not snake_case`, `"sales_db"`}},
		{"source name reserved for logs", dev(region + `, "sources": [{"name": "app_logs", "engine": "mysql", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}]`), env + ".sources[0].name",
			[]string{`"app_logs" is reserved for Firehose log streams`}},
		{"duplicate source names", dev(region + `, "sources": [{"name": "social", "engine": "mysql", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}, {"name": "social", "engine": "postgresql", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}]`),
			env + ".sources[1].name", []string{`"social" is already used by ` + env + ".sources[0]", "unique"}},
		{"unknown source key", dev(region + `, "sources": [{"name": "social", "engine": "mysql", "host": "db", "secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf", "subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"], "tables": [{"name": "users"}]}]`),
			env + ".sources[0].host", []string{"unknown key; remove it or use one of: database, engine, maxConcurrency, memoryMB, name, schedule, secretArn, secretKeyArn, securityGroupIds, storedTimeZone, subnetIds, tables"}},

		{"log stream without name", dev(region + `, "logStreams": [{}]`), env + ".logStreams[0].name", []string{"is required", `"web_access"`}},
		{"log stream name not snake_case", dev(region + `, "logStreams": [{"name": "web-access"}]`), env + ".logStreams[0].name",
			[]string{`log stream name "web-access" is not snake_case`, `"web_access"`}},
		{"duplicate log stream names", dev(region + `, "logStreams": [{"name": "web_access"}, {"name": "web_access"}]`),
			env + ".logStreams[1].name", []string{`log stream "web_access" is defined twice`, "unique"}},

		{"log crawl time not HH:MM", dev(region + `, "logStreams": [{"name": "web"}], "logCrawlTime": "0:30"`), env + ".logCrawlTime",
			[]string{`"0:30" is not a time of day`, "HH:MM", `"00:30"`}},
		{"log crawl time past 23:59", dev(region + `, "logStreams": [{"name": "web"}], "logCrawlTime": "24:00"`), env + ".logCrawlTime",
			[]string{`"24:00" is not a time of day`}},
		{"log crawl time as a cron", dev(region + `, "logStreams": [{"name": "web"}], "logCrawlTime": "cron(30 0 * * ? *)"`), env + ".logCrawlTime",
			[]string{"is not a time of day", "HH:MM"}},
		{"log crawl time as a number", dev(region + `, "logStreams": [{"name": "web"}], "logCrawlTime": 30`), env + ".logCrawlTime",
			[]string{"must be a string"}},
		{"log crawl before Firehose has flushed the day", dev(region + `, "logStreams": [{"name": "web"}], "logCrawlTime": "00:14"`), env + ".logCrawlTime",
			[]string{`"00:14" is too early`, "Firehose", "set 00:15 or later"}},
		{"log crawl too late to end on the same day", dev(region + `, "logStreams": [{"name": "web"}], "logCrawlTime": "23:01"`), env + ".logCrawlTime",
			[]string{`"23:01" is too late`, "before midnight", "set 23:00 or earlier"}},
		{"log crawl time without log streams", dev(region + `, "logCrawlTime": "00:30"`), env + ".logCrawlTime",
			[]string{"there are none", `remove it or add a log stream to "logStreams"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, tt.text)
			if len(got) != 1 {
				t.Fatalf("got %d problems, want 1:\n%s", len(got), strings.Join(got, "\n"))
			}
			if !strings.HasPrefix(got[0], tt.key+": ") {
				t.Errorf("problem %q does not name key %s", got[0], tt.key)
			}
			for _, f := range tt.fix {
				if !strings.Contains(got[0], f) {
					t.Errorf("problem %q does not contain %q", got[0], f)
				}
			}
		})
	}
}

func TestParse_ReportsMisspeltKeyWithKnownKeys(t *testing.T) {
	const envKeys = "account, aggregate, alarmEmail, athena, backfill, lake, logCrawlTime, logRetentionDays, logStreams, observe, production, region, removalPolicy, sources, timeZone"
	tests := []struct {
		name string
		text string
		want string
	}{
		{"environment key", dev(`"regoin": "ap-northeast-1"`),
			"kpilake.environments.dev.regoin: unknown key; remove it or use one of: " + envKeys},
		{"environment key next to a valid one", dev(region + `, "timezone": "UTC"`),
			"kpilake.environments.dev.timezone: unknown key; remove it or use one of: " + envKeys},
		{"athena key", dev(region + `, "athena": {"reservedQuery": 5}`),
			"kpilake.environments.dev.athena.reservedQuery: unknown key; remove it or use one of: activeQueryQuota, bytesScannedCutoffPerQuery, reservedQueries"},
		{"backfill key", dev(region + `, "backfill": {"maxConcurency": 5}`),
			"kpilake.environments.dev.backfill.maxConcurency: unknown key; remove it or use one of: earliestDay, maxConcurrency, maxDays, maxMessageAgeHours"},
		{"observe key", dev(region + `, "observe": {"freshnessLag": 36}`),
			"kpilake.environments.dev.observe.freshnessLag: unknown key; remove it or use one of: freshnessLagHours, lambdaErrorsThreshold"},
		{"log stream key", dev(region + `, "logStreams": [{"name": "web", "format": "json"}]`),
			"kpilake.environments.dev.logStreams[0].format: unknown key; remove it or use one of: name"},
		{"top-level key", `{"enviroments": {}}`,
			"kpilake.enviroments: unknown key; remove it or use one of: delivery, environments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, tt.text)
			for _, p := range got {
				if p == tt.want {
					return
				}
			}
			t.Errorf("problems do not include\n  %s\ngot:\n  %s", tt.want, strings.Join(got, "\n  "))
		})
	}
}

func TestParse_ReportsEveryProblemAtOnce(t *testing.T) {
	text := `{"environments": {
		"dev": {
			"region": "ap-northeast-1",
			"account": "1",
			"sources": [{"name": "Bad"}],
			"logStreams": [{"name": "web"}, {"name": "web"}]
		},
		"prod": {
			"region": "Tokyo",
			"regoin": "ap-northeast-1",
			"production": true,
			"removalPolicy": "destroy",
			"logRetentionDays": 10,
			"lake": {"rawGlacierAfterDays": 40},
			"athena": {"activeQueryQuota": 20, "reservedQueries": 30},
			"backfill": {"maxConcurrency": 1},
			"observe": {"freshnessLagHours": 200}
		},
		"Staging": {"region": "ap-northeast-1"}
	}}`
	wantKeys := []string{
		"kpilake.environments.Staging",
		"kpilake.environments.dev.account",
		"kpilake.environments.dev.logStreams[1].name",
		"kpilake.environments.dev.sources[0].engine",
		"kpilake.environments.dev.sources[0].name",
		"kpilake.environments.dev.sources[0].secretArn",
		"kpilake.environments.dev.sources[0].securityGroupIds",
		"kpilake.environments.dev.sources[0].subnetIds",
		"kpilake.environments.dev.sources[0].tables",
		"kpilake.environments.prod.athena.reservedQueries",
		"kpilake.environments.prod.backfill.maxConcurrency",
		"kpilake.environments.prod.lake.rawGlacierAfterDays",
		"kpilake.environments.prod.logRetentionDays",
		"kpilake.environments.prod.observe.freshnessLagHours",
		"kpilake.environments.prod.region",
		"kpilake.environments.prod.regoin",
		"kpilake.environments.prod.removalPolicy",
	}

	_, err := config.FromJSON([]byte(text))
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("FromJSON error = %v (%T), want *config.Error", err, err)
	}
	var gotKeys []string
	for _, p := range cerr.Problems {
		key, _, ok := strings.Cut(p, ": ")
		if !ok {
			t.Errorf("problem %q is not in the form \"key: message\"", p)
		}
		gotKeys = append(gotKeys, key)
	}
	sort.Strings(gotKeys)
	if diff := cmp.Diff(wantKeys, gotKeys); diff != "" {
		t.Errorf("keys of the problems (-want +got):\n%s", diff)
	}

	msg := err.Error()
	if want := "invalid kpilake configuration in cdk.json (17 problems):"; !strings.HasPrefix(msg, want) {
		t.Errorf("Error() starts %q, want prefix %q", firstLine(msg), want)
	}
	for _, p := range cerr.Problems {
		if !strings.Contains(msg, "\n  - "+p) {
			t.Errorf("Error() does not list problem %q:\n%s", p, msg)
		}
	}
}

func TestParse_ReportsProblemsInTheSameOrderEveryTime(t *testing.T) {
	text := `{"environments": {
		"a": {"region": "x", "account": "1", "zz": 1, "yy": 2},
		"b": {"region": "y", "timeZone": "Nowhere"},
		"c": {"region": "z", "removalPolicy": "keep"}
	}}`
	first := problems(t, text)
	for range 20 {
		if diff := cmp.Diff(first, problems(t, text)); diff != "" {
			t.Fatalf("problems changed between runs (-first +now):\n%s", diff)
		}
	}
}

func TestError_CountsProblems(t *testing.T) {
	tests := []struct {
		name     string
		problems []string
		want     string
	}{
		{"one", []string{"a.b: bad"}, "invalid kpilake configuration in cdk.json (1 problem):\n  - a.b: bad"},
		{"two", []string{"a.b: bad", "a.c: worse"}, "invalid kpilake configuration in cdk.json (2 problems):\n  - a.b: bad\n  - a.c: worse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (&config.Error{Problems: tt.problems}).Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParse_FailsWhenContextIsNil(t *testing.T) {
	cfg, err := config.Parse(nil)
	if err == nil {
		t.Fatalf("Parse(nil) = %+v, want an error", cfg)
	}
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Parse(nil) error is %T, want *config.Error", err)
	}
	want := []string{`kpilake: is missing; add a "kpilake": {"environments": {...}} object to the context in cdk.json`}
	if diff := cmp.Diff(want, cerr.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestFromJSON_FailsOnMalformedJSON(t *testing.T) {
	for _, text := range []string{``, `{`, `{"environments": {"dev": {"region": "ap-northeast-1",}}}`} {
		cfg, err := config.FromJSON([]byte(text))
		if err == nil {
			t.Errorf("FromJSON(%q) = %+v, want an error", text, cfg)
			continue
		}
		if !strings.Contains(err.Error(), `context "kpilake": not valid JSON`) {
			t.Errorf("FromJSON(%q) error = %q, want it to say the context is not valid JSON", text, err)
		}
	}
}

// TestParse_AcceptsCDKJSON keeps the committed cdk.json valid: a bad edit fails here, not at synth.
func TestParse_AcceptsCDKJSON(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	cfg, err := config.Parse(file.Context[config.ContextKey])
	if err != nil {
		t.Fatalf("cdk.json: %v", err)
	}

	type summary struct {
		Name, Region, TimeZone, Location string
		Production                       bool
		RemovalPolicy                    config.Removal
	}
	want := []summary{
		{Name: "dev", Region: "ap-northeast-1", TimeZone: "Asia/Tokyo", Location: "Asia/Tokyo", Production: false, RemovalPolicy: config.Destroy},
		{Name: "prod", Region: "ap-northeast-1", TimeZone: "Asia/Tokyo", Location: "Asia/Tokyo", Production: true, RemovalPolicy: config.Retain},
	}
	envs, err := cfg.Select("")
	if err != nil {
		t.Fatal(err)
	}
	var got []summary
	for _, e := range envs {
		got = append(got, summary{e.Name, e.Region, e.TimeZone, e.Location.String(), e.Production, e.RemovalPolicy})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cdk.json environments (-want +got):\n%s", diff)
	}
}

func TestConfig_Select(t *testing.T) {
	cfg := mustParse(t, `{"environments": {
		"staging": {"region": "ap-northeast-1"},
		"prod": {"region": "ap-northeast-1"},
		"dev": {"region": "ap-northeast-1"}
	}}`)
	tests := []struct {
		name    string
		arg     string
		want    []string
		wantErr []string
	}{
		{name: "empty selects all, sorted", arg: "", want: []string{"dev", "prod", "staging"}},
		{name: "one by name", arg: "prod", want: []string{"prod"}},
		{name: "unknown name", arg: "nope", wantErr: []string{`environment "nope" is not configured`, "choose one of dev, prod, staging"}},
		{name: "name differing in case", arg: "Prod", wantErr: []string{`environment "Prod" is not configured`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			envs, err := cfg.Select(tt.arg)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Select(%q) = %d environments, want an error", tt.arg, len(envs))
				}
				for _, f := range tt.wantErr {
					if !strings.Contains(err.Error(), f) {
						t.Errorf("Select(%q) error %q does not contain %q", tt.arg, err, f)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Select(%q): %v", tt.arg, err)
			}
			var got []string
			for _, e := range envs {
				if e != cfg.Environments[e.Name] {
					t.Errorf("Select(%q) returned a copy of %s, want the configured environment", tt.arg, e.Name)
				}
				got = append(got, e.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Select(%q) names (-want +got):\n%s", tt.arg, diff)
			}
		})
	}
}

func TestConfig_NamesAreSorted(t *testing.T) {
	cfg := mustParse(t, `{"environments": {"b": {`+region+`}, "c": {`+region+`}, "a": {`+region+`}}}`)
	if diff := cmp.Diff([]string{"a", "b", "c"}, cfg.Names()); diff != "" {
		t.Errorf("Names() (-want +got):\n%s", diff)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestParse_FailsOnInvalidSource(t *testing.T) {
	const key = "kpilake.environments.dev.sources[0]"
	// with builds a source from the valid minimal one, with some keys replaced or added.
	with := func(fields map[string]string) string {
		base := map[string]string{
			"name":             `"social"`,
			"engine":           `"mysql"`,
			"secretArn":        `"arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf"`,
			"subnetIds":        `["subnet-0123456789abcdef0"]`,
			"securityGroupIds": `["sg-0123456789abcdef0"]`,
			"tables":           `[{"name": "users"}]`,
		}
		for k, v := range fields {
			if v == "" {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		var parts []string
		for k, v := range base {
			parts = append(parts, fmt.Sprintf("%q: %s", k, v))
		}
		sort.Strings(parts)
		return dev(region + `, "sources": [{` + strings.Join(parts, ", ") + `}]`)
	}
	tests := []struct {
		name   string
		fields map[string]string
		key    string
		fix    []string
	}{
		{"no secret", map[string]string{"secretArn": ""}, ".secretArn", []string{"is required", "read-only user's credentials"}},
		{"secret not an ARN", map[string]string{"secretArn": `"social-db"`}, ".secretArn", []string{`"social-db" is not a Secrets Manager secret ARN`}},
		{"secret key not a KMS ARN", map[string]string{"secretKeyArn": `"alias/db"`}, ".secretKeyArn", []string{"is not a KMS key ARN", "AWS managed key"}},
		{"database name with a space", map[string]string{"database": `"my db"`}, ".database", []string{`"my db" is not a database name`}},
		{"stored zone unknown", map[string]string{"storedTimeZone": `"JST"`}, ".storedTimeZone", []string{`"JST" is not an IANA time zone`}},
		{"schedule not cron", map[string]string{"schedule": `"rate(1 day)"`}, ".schedule", []string{"not an EventBridge Scheduler cron expression", "cron(0 2 * * ? *)"}},
		{"no table parallelism", map[string]string{"maxConcurrency": `0`}, ".maxConcurrency", []string{"between 1 and 40"}},
		{"too little memory", map[string]string{"memoryMB": `128`}, ".memoryMB", []string{"between 256 and 10240"}},
		{"no subnets", map[string]string{"subnetIds": `[]`}, ".subnetIds", []string{"give at least one ID", "subnet-0123456789abcdef0"}},
		{"subnet not an ID", map[string]string{"subnetIds": `["private-a"]`}, ".subnetIds[0]", []string{`"private-a" is not an ID`}},
		{"no security groups", map[string]string{"securityGroupIds": ""}, ".securityGroupIds", []string{"give at least one ID", "sg-0123456789abcdef0"}},
		{"security group not a string", map[string]string{"securityGroupIds": `[5]`}, ".securityGroupIds[0]", []string{"must be a string, got number 5"}},
		{"no tables", map[string]string{"tables": `[]`}, ".tables", []string{"give at least one table"}},
		{"table listed twice", map[string]string{"tables": `[{"name": "users"}, {"name": "users"}]`}, ".tables[1].name", []string{`table "users" is listed twice`}},
		{"table name not snake_case", map[string]string{"tables": `[{"name": "Users"}]`}, ".tables[0].name", []string{`table name "Users" is not snake_case`}},
		{"unknown mode", map[string]string{"tables": `[{"name": "users", "mode": "full"}]`}, ".tables[0].mode", []string{`"full" is not a mode`, `"snapshot"`, `"incremental"`}},
		{"incremental without column", map[string]string{"tables": `[{"name": "posts", "mode": "incremental"}]`}, ".tables[0].timestampColumn", []string{"is required for an incremental table", `"updated_at"`}},
		{"snapshot with column", map[string]string{"tables": `[{"name": "users", "timestampColumn": "updated_at"}]`}, ".tables[0].timestampColumn", []string{"applies to incremental tables only"}},
		{"column name injection", map[string]string{"tables": `[{"name": "users", "exclude": ["email; DROP TABLE users"]}]`}, ".tables[0].exclude[0]", []string{"is not a column name"}},
		{"hashed and excluded", map[string]string{"tables": `[{"name": "users", "exclude": ["email"], "hash": ["email"]}]`}, ".tables[0].hash", []string{`column "email" is also excluded`}},
		{"timestamp column excluded", map[string]string{"tables": `[{"name": "posts", "mode": "incremental", "timestampColumn": "updated_at", "exclude": ["updated_at"]}]`}, ".tables[0].exclude", []string{"cannot be excluded"}},
		{"column listed twice", map[string]string{"tables": `[{"name": "users", "hash": ["code", "code"]}]`}, ".tables[0].hash[1]", []string{`column "code" is listed twice`}},
		{"unknown table key", map[string]string{"tables": `[{"name": "users", "columns": ["id"]}]`}, ".tables[0].columns", []string{"unknown key; remove it or use one of: exclude, hash, key, mode, name, timestampColumn"}},
		{"key of a snapshot table", map[string]string{"tables": `[{"name": "users", "key": ["id"]}]`}, ".tables[0].key", []string{"applies to incremental tables only", `"mode": "incremental"`}},
		{"empty key", map[string]string{"tables": `[{"name": "posts", "mode": "incremental", "timestampColumn": "updated_at", "key": []}]`}, ".tables[0].key", []string{"give the table's primary key columns", `["id"]`}},
		{"key not as the catalog names it", map[string]string{"tables": `[{"name": "posts", "mode": "incremental", "timestampColumn": "updated_at", "key": ["PostID"]}]`}, ".tables[0].key[0]", []string{`"PostID" is not a column name as the catalog has it`, `"postid"`}},
		{"key column twice", map[string]string{"tables": `[{"name": "posts", "mode": "incremental", "timestampColumn": "updated_at", "key": ["id", "id"]}]`}, ".tables[0].key[1]", []string{`column "id" is listed twice`}},
		{"key column excluded", map[string]string{"tables": `[{"name": "posts", "mode": "incremental", "timestampColumn": "updated_at", "exclude": ["tenant"], "key": ["tenant", "id"]}]`}, ".tables[0].key[0]", []string{`column "tenant" is excluded`}},
		{"key not a list", map[string]string{"tables": `[{"name": "posts", "mode": "incremental", "timestampColumn": "updated_at", "key": "id"}]`}, ".tables[0].key", []string{"must be a JSON array of strings"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, with(tt.fields))
			if len(got) != 1 {
				t.Fatalf("got %d problems, want 1:\n%s", len(got), strings.Join(got, "\n"))
			}
			if !strings.HasPrefix(got[0], key+tt.key+": ") {
				t.Errorf("problem %q does not name key %s", got[0], key+tt.key)
			}
			for _, f := range tt.fix {
				if !strings.Contains(got[0], f) {
					t.Errorf("problem %q does not contain %q", got[0], f)
				}
			}
		})
	}
}

func TestParse_ReadsSourceTables(t *testing.T) {
	cfg := mustParse(t, dev(region+`, "sources": [{"name": "social", "engine": "postgresql",
		"secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf",
		"secretKeyArn": "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"database": "social", "storedTimeZone": "Asia/Tokyo", "schedule": "cron(30 1 * * ? *)",
		"maxConcurrency": 8, "memoryMB": 2048,
		"subnetIds": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"], "securityGroupIds": ["sg-0123456789abcdef0"],
		"tables": [
			{"name": "users", "exclude": ["email"], "hash": ["employee_code"]},
			{"name": "posts", "mode": "incremental", "timestampColumn": "updated_at"},
			{"name": "lines", "mode": "incremental", "timestampColumn": "updated_at", "key": ["order_id", "line_no"]}
		]}]`))
	want := config.Source{
		Name: "social", Engine: config.PostgreSQL,
		SecretArn:    "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf",
		SecretKeyArn: "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		Database:     "social", StoredTimeZone: "Asia/Tokyo", Schedule: "cron(30 1 * * ? *)",
		MaxConcurrency: 8, MemoryMB: 2048,
		SubnetIDs:        []string{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"},
		SecurityGroupIDs: []string{"sg-0123456789abcdef0"},
		Tables: []config.Table{
			{Name: "users", Mode: config.Snapshot, Exclude: []string{"email"}, Hash: []string{"employee_code"}},
			{Name: "posts", Mode: config.Incremental, TimestampColumn: "updated_at", Key: []string{"id"}},
			{Name: "lines", Mode: config.Incremental, TimestampColumn: "updated_at", Key: []string{"order_id", "line_no"}},
		},
	}
	if diff := cmp.Diff([]config.Source{want}, cfg.Environments["dev"].Sources); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
}

// TestParse_NullIsAnErrorForEveryKey sets each key of the committed cdk.json's environments to
// null in turn, down to the keys of each source and table: null never stands for "the default".
func TestParse_NullIsAnErrorForEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	root := file.Context[config.ContextKey]
	var paths [][]any // each path is a list of map keys (string) and list indexes (int)
	var walk func(v any, path []any)
	walk = func(v any, path []any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				p := append(append([]any{}, path...), k)
				paths = append(paths, p)
				walk(c, p)
			}
		case []any:
			for i, c := range v {
				walk(c, append(append([]any{}, path...), i))
			}
		}
	}
	walk(root, nil)
	if len(paths) < 40 {
		t.Fatalf("cdk.json yields %d keys; the walk is broken", len(paths))
	}
	for _, path := range paths {
		key := config.ContextKey
		for _, p := range path {
			if i, ok := p.(int); ok {
				key += fmt.Sprintf("[%d]", i)
			} else {
				key += "." + p.(string)
			}
		}
		t.Run(key, func(t *testing.T) {
			doc := deepCopy(root)
			setPath(doc, path, nil)
			probs := problems(t, mustJSON(t, doc))
			found := false
			for _, p := range probs {
				if strings.HasPrefix(p, key+": ") && strings.Contains(p, "null") {
					found = true
				}
			}
			if !found {
				t.Errorf("null at %s: problems %q, want one that names the key and says null", key, probs)
			}
		})
	}
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, c := range v {
			m[k] = deepCopy(c)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, c := range v {
			l[i] = deepCopy(c)
		}
		return l
	}
	return v
}

func setPath(doc any, path []any, value any) {
	for i, p := range path {
		last := i == len(path)-1
		switch k := p.(type) {
		case string:
			m := doc.(map[string]any)
			if last {
				m[k] = value
				return
			}
			doc = m[k]
		case int:
			l := doc.([]any)
			if last {
				l[k] = value
				return
			}
			doc = l[k]
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestParse_FailsWhenCatalogNamesCollide: Glue names a raw table <source>_<table> in the one
// database that also holds the KPI tables (kpi_<name>) and the CTAS runs' temporary tables
// (tmp_ctas_...), so two different raw tables, or a raw table and a reserved name, could be one.
func TestParse_FailsWhenCatalogNamesCollide(t *testing.T) {
	src := func(name string, tables ...string) string {
		var ts []string
		for _, t := range tables {
			ts = append(ts, `{"name": "`+t+`"}`)
		}
		return `{"name": "` + name + `", "engine": "mysql",
			"secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf",
			"subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"],
			"tables": [` + strings.Join(ts, ", ") + `]}`
	}
	const key = "kpilake.environments.dev."
	tests := []struct {
		name    string
		body    string
		key     string
		details []string
	}{
		{"source and table split differently", `"sources": [` + src("social", "a_b") + `, ` + src("social_a", "b") + `]`,
			"sources[1].tables[0].name", []string{`"social_a_b"`, "social_a.b", "social.a_b", key + "sources[0].tables[0]", "rename"}},
		{"a table named like a log stream's", `"sources": [` + src("app", "logs_web_access") + `], "logStreams": [{"name": "web_access"}]`,
			"logStreams[0].name", []string{`"app_logs_web_access"`, "log stream web_access", "app.logs_web_access", "rename"}},
		{"a source named kpi", `"sources": [` + src("kpi", "engagement_score") + `]`,
			"sources[0].name", []string{`"kpi_engagement_score"`, `"kpi_"`, "KPI tables", "rename the source"}},
		{"a source under the kpi_ prefix", `"sources": [` + src("kpi_x", "users") + `]`,
			"sources[0].name", []string{`"kpi_x_users"`, `"kpi_"`, "rename the source"}},
		{"a table under the temporary prefix", `"sources": [` + src("tmp", "ctas_users") + `]`,
			"sources[0].tables[0].name", []string{`"tmp_ctas_users"`, `"tmp_ctas_"`, "temporary tables"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, dev(region+", "+tt.body))
			if len(got) != 1 {
				t.Fatalf("got %d problems, want 1:\n%s", len(got), strings.Join(got, "\n"))
			}
			if !strings.HasPrefix(got[0], key+tt.key+": ") {
				t.Errorf("problem %q does not name key %s", got[0], key+tt.key)
			}
			for _, d := range tt.details {
				if !strings.Contains(got[0], d) {
					t.Errorf("problem %q does not contain %q", got[0], d)
				}
			}
		})
	}
}

// The aggregate functions receive the keys of the tables a state node reads, not of every
// incremental table: those of a few dozen sources would pass Lambda's 4 KB of environment.
func TestEnvironment_StateKeysReadAreThoseOfTheStateNodes(t *testing.T) {
	cfg := mustParse(t, dev(region+`, "sources": [{"name": "social", "engine": "postgresql",
		"secretArn": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:db-AbCdEf",
		"subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"],
		"tables": [
			{"name": "users"},
			{"name": "posts", "mode": "incremental", "timestampColumn": "updated_at"},
			{"name": "comments", "mode": "incremental", "timestampColumn": "updated_at", "key": ["post_id", "no"]}
		]}]`))
	e := cfg.Environments["dev"]
	// The repository's catalog: reactions_given_received reads {{ state "social" "posts" }}; no
	// KPI reads the state of social.comments.
	kpis, err := queries.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(e.StateKeys()); got != 2 {
		t.Fatalf("StateKeys has %d tables, want the 2 incremental ones", got)
	}
	want := aggregate.StateKeys{{Source: "social", Table: "posts"}: {"id"}}
	if diff := cmp.Diff(want, e.StateKeysRead(kpis)); diff != "" {
		t.Errorf("StateKeysRead (-want +got):\n%s", diff)
	}
}
