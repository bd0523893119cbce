//go:build !unit

package ingest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kpilake/kpilake/infra/catalog"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/infra/ingest"
	"github.com/kpilake/kpilake/infra/internal/cdktest"
	"github.com/kpilake/kpilake/infra/lake"
	"github.com/kpilake/kpilake/layout"
)

// crawlerSchedule synthesizes a schedule of the app_logs crawler; edit may change the props.
func crawlerSchedule(t *testing.T, edit func(*ingest.CrawlerScheduleProps)) (*cdktest.Template, *catalog.Crawler, *ingest.CrawlerSchedule) {
	t.Helper()
	var (
		tp      *cdktest.Template
		crawler *catalog.Crawler
		s       *ingest.CrawlerSchedule
	)
	cdktest.Setup(t, func() {
		stack := cdktest.NewStack("Test")
		cat := catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: lake.NewLake(stack, "Lake", nil)})
		crawler = catalog.NewCrawler(stack, "Crawler", &catalog.CrawlerProps{
			Catalog: cat, Prefixes: []string{layout.AppLogsPrefix()}, TablePrefix: layout.CrawlerTablePrefix(layout.AppLogsSource),
		})
		props := &ingest.CrawlerScheduleProps{Crawler: crawler, TimeZone: businessZone}
		if edit != nil {
			edit(props)
		}
		s = ingest.NewCrawlerSchedule(stack, "LogCrawl", props)
		var err error
		if tp, err = cdktest.Synth(stack); err != nil {
			panic(err)
		}
	})
	return tp, crawler, s
}

func TestCrawlerSchedule_StartsTheCrawlerDailyInTheBusinessZone(t *testing.T) {
	for _, tc := range []struct {
		name, at, cron string
	}{
		{"default: shortly after midnight", "", "cron(30 0 * * ? *)"},
		{"configured", "01:05", "cron(5 1 * * ? *)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, crawler, s := crawlerSchedule(t, func(p *ingest.CrawlerScheduleProps) { p.At = tc.at })
			id := tp.LogicalID(s.Schedule.ScheduleName())
			tp.HasProperties(t, id, map[string]any{
				"ScheduleExpression":         tc.cron,
				"ScheduleExpressionTimezone": businessZone,
				"FlexibleTimeWindow":         map[string]any{"Mode": "OFF"},
				"State":                      "ENABLED",
				"Target": map[string]any{
					// The universal target: Scheduler calls Glue's StartCrawler itself.
					"Arn":              map[string]any{"Fn::Join": []any{"", []any{"arn:", map[string]any{"Ref": "AWS::Partition"}, ":scheduler:::aws-sdk:glue:startCrawler"}}},
					"RoleArn":          tp.Resolve(s.Role.RoleArn()),
					"DeadLetterConfig": map[string]any{"Arn": tp.Resolve(s.DeadLetters.QueueArn())},
					"RetryPolicy":      map[string]any{"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 7200},
				},
			})
			target, _ := tp.Properties(t, id)["Target"].(map[string]any)
			// The input is the StartCrawler request: {"Name": <the crawler's name>}.
			input, _ := tp.Resolve(target["Input"]).(map[string]any)
			join, _ := input["Fn::Join"].([]any)
			if len(join) != 2 {
				t.Fatalf("Target.Input = %v, want JSON joined around the crawler's name", target["Input"])
			}
			var text strings.Builder
			parts, _ := join[1].([]any)
			for _, part := range parts {
				if s, ok := part.(string); ok {
					text.WriteString(s)
				} else if diff := cmp.Diff(tp.Resolve(crawler.Name()), part); diff != "" {
					t.Errorf("Target.Input refers to something other than the crawler's name (-want +got):\n%s", diff)
				} else {
					text.WriteString("CRAWLER")
				}
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(text.String()), &got); err != nil {
				t.Fatalf("Target.Input %q is not JSON: %v", text.String(), err)
			}
			if diff := cmp.Diff(map[string]any{"Name": "CRAWLER"}, got); diff != "" {
				t.Errorf("Target.Input (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCrawlerSchedule_RoleStartsOnlyItsCrawlerAndSendsOnlyToItsDeadLetters(t *testing.T) {
	tp, crawler, s := crawlerSchedule(t, nil)
	role := tp.LogicalID(s.Role.RoleName())
	want := []string{
		cdktest.Permission("Allow", "glue:StartCrawler", tp.Resolve(crawler.Arn()), nil),
		cdktest.Permission("Allow", "sqs:SendMessage", tp.Resolve(s.DeadLetters.QueueArn()), nil),
	}
	if diff := cmp.Diff(sortedLines(want), sortedLines(tp.Permissions(role))); diff != "" {
		t.Errorf("permissions of the schedule's role (-want +got):\n%s", diff)
	}
	// Only EventBridge Scheduler, on behalf of this account, may assume it.
	tp.HasProperties(t, role, map[string]any{
		"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Action":    "sts:AssumeRole",
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "scheduler.amazonaws.com"},
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": cdktest.Account}},
		}}},
	})
	if n := len(tp.Resources("AWS::IAM::Role")); n != 2 {
		t.Errorf("%d roles, want 2 (the crawler's and the schedule's): the target must not create its own", n)
	}
	tp.HasProperties(t, tp.LogicalID(s.DeadLetters.QueueUrl()), map[string]any{
		"SqsManagedSseEnabled":   true,
		"MessageRetentionPeriod": 14 * 24 * 3600,
	})
}

func TestNewCrawlerSchedule_FailsIf(t *testing.T) {
	id := `ingest.NewCrawlerSchedule "LogCrawl"`
	for _, tc := range []struct {
		name   string
		change func(*ingest.CrawlerScheduleProps)
		want   []string
	}{
		{"no crawler", func(p *ingest.CrawlerScheduleProps) { p.Crawler = nil }, []string{id, "Crawler is required"}},
		{"no time zone", func(p *ingest.CrawlerScheduleProps) { p.TimeZone = "" }, []string{id, "TimeZone is required", `"Asia/Tokyo"`}},
		{"time zone that is not IANA", func(p *ingest.CrawlerScheduleProps) { p.TimeZone = "JST" + "x" }, []string{id, `TimeZone "JSTx"`}},
		{"time that is not HH:MM", func(p *ingest.CrawlerScheduleProps) { p.At = "0:30" }, []string{id, `At: "0:30" is not a time of day`, "HH:MM"}},
		{"every problem at once", func(p *ingest.CrawlerScheduleProps) { *p = ingest.CrawlerScheduleProps{At: "25:00"} },
			[]string{id, "Crawler is required", "TimeZone is required", `At: "25:00"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := cdktest.TestStack(t)
			var props *ingest.CrawlerScheduleProps
			cdktest.Setup(t, func() {
				cat := catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: lake.NewLake(stack, "Lake", nil)})
				props = &ingest.CrawlerScheduleProps{TimeZone: businessZone, At: config.DefaultLogCrawlTime,
					Crawler: catalog.NewCrawler(stack, "Crawler", &catalog.CrawlerProps{
						Catalog: cat, Prefixes: []string{layout.AppLogsPrefix()}, TablePrefix: layout.CrawlerTablePrefix(layout.AppLogsSource),
					})}
			})
			tc.change(props)
			err := cdktest.Recover(func() { ingest.NewCrawlerSchedule(stack, "LogCrawl", props) })
			cdktest.WantError(t, "NewCrawlerSchedule", err, tc.want...)
		})
	}
	t.Run("nil props", func(t *testing.T) {
		err := cdktest.Recover(func() { ingest.NewCrawlerSchedule(cdktest.TestStack(t), "LogCrawl", nil) })
		if err == nil || !strings.Contains(err.Error(), "Crawler is required") {
			t.Errorf("NewCrawlerSchedule(nil props) = %v, want a validation error", err)
		}
	})
}

// The schedule suppresses the findings of its own resources: alone in a stack, it leaves no
// AwsSolutions finding.
func TestNewCrawlerSchedule_PassesAwsSolutionsAlone(t *testing.T) {
	stack := cdktest.TestStack(t)
	cdktest.Setup(t, func() {
		cat := catalog.NewCatalog(stack, "Catalog", &catalog.CatalogProps{Lake: lake.NewLake(stack, "Lake", nil)})
		crawler := catalog.NewCrawler(stack, "Crawler", &catalog.CrawlerProps{
			Catalog: cat, Prefixes: []string{layout.AppLogsPrefix()}, TablePrefix: layout.CrawlerTablePrefix(layout.AppLogsSource),
		})
		ingest.NewCrawlerSchedule(stack, "LogCrawl", &ingest.CrawlerScheduleProps{Crawler: crawler, TimeZone: businessZone})
	})
	for _, f := range cdktest.AwsSolutionsFindings(t, stack, "/LogCrawl/") {
		t.Error(f)
	}
}
