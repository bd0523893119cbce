// Package config reads and validates the per-environment configuration that cdk.json carries under
// the context key "kpilake". A bad value fails synth with one error that lists every problem, each
// under its full key and with the fix.
package config

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kpilake/kpilake/lambdas/plan"
	_ "time/tzdata" // business time zones must resolve on any machine, with or without zoneinfo

	"github.com/kpilake/kpilake/lambdas/ctas"
	"github.com/kpilake/kpilake/layout"
)

// ContextKey is the cdk.json context key that holds the configuration.
const ContextKey = "kpilake"

// Removal says what happens to stateful resources (buckets, keys, logs) when the stack or the
// resource is deleted.
type Removal string

// Removal policies.
const (
	Retain  Removal = "retain"
	Destroy Removal = "destroy"
)

// Engine is a source database engine.
type Engine string

// Supported engines.
const (
	MySQL      Engine = "mysql"
	PostgreSQL Engine = "postgresql"
)

// Environment is one deployment target: one stack.
type Environment struct {
	// Name is the environment's key under "environments" (dev, prod, ...).
	Name string
	// Account is the 12-digit AWS account; empty means the CDK CLI's default account.
	Account string
	// Region is the AWS region, such as ap-northeast-1.
	Region string
	// TimeZone is the IANA zone in which business days start and end. Default: Asia/Tokyo.
	TimeZone string
	// Location is TimeZone, loaded.
	Location *time.Location
	// Production turns on termination protection and forbids Destroy. Default: false.
	Production bool
	// RemovalPolicy applies to buckets, the lake's keys, the hash salt and its key, and log
	// groups. Default: Retain.
	RemovalPolicy Removal
	// LogRetentionDays is how long Lambda and crawler logs are kept. Default: 90.
	LogRetentionDays int
	Lake             Lake
	Athena           Athena
	Aggregate        Aggregate
	Backfill         Backfill
	Observe          Observe
	// AlarmEmail receives alarm notifications; empty means no subscription. Default: "".
	AlarmEmail string
	// Sources are the databases extracted into the raw zone.
	Sources []Source
	// LogStreams are the application log streams delivered through Firehose.
	LogStreams []LogStream
	// LogCrawlTime is when the app_logs crawler starts every day, "HH:MM" in TimeZone, between
	// MinLogCrawlTime and MaxLogCrawlTime. Only with LogStreams. Default: DefaultLogCrawlTime.
	LogCrawlTime string
}

// Lake holds the lifecycle of the lake's zones, in days.
type Lake struct {
	// RawInfrequentAccessAfterDays moves raw objects to S3 Standard-IA. Default: 30 (S3's minimum).
	RawInfrequentAccessAfterDays int
	// RawGlacierAfterDays moves raw objects to Glacier Instant Retrieval. Default: 90.
	RawGlacierAfterDays int
	// NoncurrentVersionExpireAfterDays deletes replaced raw object versions. Default: 30.
	NoncurrentVersionExpireAfterDays int
	// QueryResultsExpireAfterDays deletes Athena query output. Default: 7.
	QueryResultsExpireAfterDays int
	// AccessLogsExpireAfterDays deletes S3 server access logs. Default: 365.
	AccessLogsExpireAfterDays int
	// Protection keeps a second copy of the raw zone and the access logs in a locked AWS Backup
	// vault and denies shortening their lifecycle, suspending versioning and deleting object
	// versions to all but a break-glass role and the stack's deployments. Default: Production.
	Protection bool
	// BackupRetentionDays keeps the daily recovery points (with Protection). Default: 365.
	BackupRetentionDays int
	// BreakGlassRoleArn may change the protected settings besides the stack's deployments (with
	// Protection), and read the hash salt besides the extraction functions. Default: "".
	BreakGlassRoleArn string
}

// Athena holds the query engine's limits.
type Athena struct {
	// BytesScannedCutoffPerQuery cancels a query that scans more. Default: 100 GiB.
	BytesScannedCutoffPerQuery int64
	// ActiveQueryQuota is the account's Athena active DML query quota in the region (Service
	// Quotas). Default: 20.
	ActiveQueryQuota int
	// ReservedQueries is headroom kept free for the daily workflow and analysts. Default: 5.
	ReservedQueries int
}

// Aggregate holds the daily aggregation's settings: which days a crawl brings (lambdas/plan, the
// workflow in infra/aggregate) and how KPI runs are published (lambdas/ctas).
type Aggregate struct {
	// LookbackDays is how many days before a crawl's business day the plan looks for days whose
	// inputs arrived or changed after their KPIs were published (a late crawl, a re-extraction)
	// and aggregates them again; older days are a backfill. Between 1 and 92. Default: 31.
	LookbackDays int
	// SupersededRunGraceHours is how long a KPI day's superseded run stays readable after the
	// partition moved to a newer run, before a later run or the hourly sweep deletes it: at least
	// the longest query of the lake's readers. Between MinSupersededRunGraceHours and 720.
	// Default: 6 (ctas.DefaultSupersededGrace: Athena's largest DML timeout, 240 minutes, and
	// margins).
	SupersededRunGraceHours int
}

// MinSupersededRunGraceHours is ctas.MinSupersededGrace (Athena's default DML timeout and the
// writes of dying runs), in whole hours.
var MinSupersededRunGraceHours = int((ctas.MinSupersededGrace + time.Hour - 1) / time.Hour)

// Backfill holds the re-aggregation limits.
type Backfill struct {
	// MaxConcurrency bounds the worker Lambdas (the SQS event source's maximum concurrency).
	// Between 2 and ActiveQueryQuota-ReservedQueries. Default: 10, capped to the headroom.
	MaxConcurrency int
	// MaxDays bounds one backfill request. Default: 1096 (three years).
	MaxDays int
	// MaxMessageAgeHours is the age of the oldest waiting job at which the backfill queue alarms:
	// the workers are stuck or far behind. Between 1 and 312 (13 days: the queue keeps a job 14
	// days, so the alarm leaves a day before SQS deletes it). Default: 72.
	MaxMessageAgeHours int
	// EarliestDay is the first business day a backfill job may name, YYYY-MM-DD; the worker
	// dead-letters earlier ones (and days not over yet) as malformed. Default: "" (the worker's
	// default, 2000-01-01).
	EarliestDay string
}

// Observe holds the thresholds of the alarms (infra/observe).
type Observe struct {
	// FreshnessLagHours is how long after the end of a business day (in TimeZone) its KPIs must
	// be published: a KPI alarms when for this many hours no run has published a day that ended
	// at most this long before. Between 25 (the daily run publishes once a day) and 168 (CloudWatch
	// evaluates an alarm over at most 7 days). Default: 36.
	FreshnessLagHours int
	// LambdaErrorsThreshold is how many errors of one function in 5 minutes alarm. Default: 1.
	LambdaErrorsThreshold int
}

// Config is every environment of the app.
type Config struct {
	Environments map[string]*Environment
	// Delivery is how GitHub Actions deploys them; nil when cdk.json has no "delivery".
	Delivery *Delivery
}

// Names lists the environment names, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Environments))
	for n := range c.Environments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Select returns the named environments, or all of them when name is empty.
func (c *Config) Select(name string) ([]*Environment, error) {
	if name == "" {
		var all []*Environment
		for _, n := range c.Names() {
			all = append(all, c.Environments[n])
		}
		return all, nil
	}
	e, ok := c.Environments[name]
	if !ok {
		return nil, fmt.Errorf("environment %q is not configured; choose one of %s (cdk.json context %q.environments)",
			name, strings.Join(c.Names(), ", "), ContextKey)
	}
	return []*Environment{e}, nil
}

var (
	envNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
)

// retentionDays are the values CloudWatch Logs accepts.
var retentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// minBackfillConcurrency is the least maximum concurrency an SQS event source mapping accepts.
const minBackfillConcurrency = 2

// maxBackfillMessageAgeHours leaves a day between the oldest-job alarm and the backfill queue's
// 14-day retention, after which SQS deletes a job that no worker took.
const maxBackfillMessageAgeHours = 13 * 24

// Bounds of observe.freshnessLagHours: a daily run publishes a day once a day, so a lag of a day
// or less would alarm every day; CloudWatch evaluates an alarm of hourly periods over at most 7
// days.
const (
	minFreshnessLagHours = 25
	maxFreshnessLagHours = 7 * 24
)

// minBytesScannedCutoff is Athena's lowest per-query data usage control (10 MB).
const minBytesScannedCutoff = 10_000_000

// FromJSON parses the "kpilake" context value given as JSON text.
func FromJSON(data []byte) (*Config, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("context %q: not valid JSON: %w", ContextKey, err)
	}
	return Parse(v)
}

// Parse validates the "kpilake" context value (as decoded from JSON: maps, slices, float64,
// string, bool) and returns the typed configuration, or one error listing every problem.
func Parse(v any) (*Config, error) {
	errs := &problems{}
	cfg := &Config{Environments: map[string]*Environment{}}
	if v == nil {
		errs.add(ContextKey, `is missing; add a "kpilake": {"environments": {...}} object to the context in cdk.json`)
		return nil, errs.err()
	}
	root, ok := newObject(ContextKey, v, errs)
	if ok {
		_, isObject := root.m["environments"].(map[string]any)
		envs := root.child("environments")
		if len(envs.m) == 0 && (isObject || root.m["environments"] == nil) {
			errs.add(envs.path, `must name at least one environment, such as "dev": {"region": "ap-northeast-1"}`)
		}
		names := make([]string, 0, len(envs.m))
		for n := range envs.m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			envs.seen[n] = true
			if !envNameRE.MatchString(n) {
				errs.add(envs.key(n), "environment name must be lowercase letters, digits and -, starting with a letter, at most 20 characters (such as dev, prod)")
				continue
			}
			if o, ok := newObject(envs.key(n), envs.m[n], errs); ok {
				cfg.Environments[n] = parseEnvironment(n, o)
			}
		}
		cfg.Delivery = parseDelivery(root)
		cfg.checkPipeline(errs)
		root.done()
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func parseEnvironment(name string, o *object) *Environment {
	e := &Environment{Name: name}
	e.Region = o.requiredStr("region", `set the AWS region, such as "ap-northeast-1"`)
	if e.Region != "" && !regionRE.MatchString(e.Region) {
		o.errs.add(o.key("region"), "%q is not an AWS region; use a code such as \"ap-northeast-1\"", e.Region)
	}
	e.Account = o.str("account", "")
	if e.Account != "" && !accountRE.MatchString(e.Account) {
		o.errs.add(o.key("account"), "%q is not a 12-digit AWS account ID; fix it or remove the key to use the CLI's default account", e.Account)
	}
	e.TimeZone = o.str("timeZone", "Asia/Tokyo")
	loc, err := time.LoadLocation(e.TimeZone)
	if err != nil || e.TimeZone == "" || e.TimeZone == "Local" {
		o.errs.add(o.key("timeZone"), "%q is not an IANA time zone; use a name such as \"Asia/Tokyo\" or \"UTC\"", e.TimeZone)
		loc = time.UTC
	}
	e.Location = loc
	e.Production = o.boolean("production", false)
	e.RemovalPolicy = Removal(o.str("removalPolicy", string(Retain)))
	switch e.RemovalPolicy {
	case Retain:
	case Destroy:
		if e.Production {
			o.errs.add(o.key("removalPolicy"), `a production environment must keep its data; set "retain" (or set "production": false)`)
		}
	default:
		o.errs.add(o.key("removalPolicy"), `%q is not a removal policy; use "retain" or "destroy"`, e.RemovalPolicy)
	}
	e.LogRetentionDays = int(o.integer("logRetentionDays", 90, 1, 3653))
	if !slices.Contains(retentionDays, e.LogRetentionDays) {
		o.errs.add(o.key("logRetentionDays"), "%d is not a CloudWatch Logs retention; use one of %v", e.LogRetentionDays, retentionDays)
	}
	e.AlarmEmail = o.str("alarmEmail", "")
	if e.AlarmEmail != "" {
		if a, err := mail.ParseAddress(e.AlarmEmail); err != nil || a.Address != e.AlarmEmail {
			o.errs.add(o.key("alarmEmail"), "%q is not an e-mail address; use a plain address such as \"data-alerts@example.com\"", e.AlarmEmail)
		}
	}
	e.Lake = parseLake(o.child("lake"), e.Production, e.RemovalPolicy)
	e.Athena = parseAthena(o.child("athena"))
	e.Backfill = parseBackfill(o.child("backfill"), e.Athena)
	e.Aggregate = parseAggregate(o.child("aggregate"))
	e.Observe = parseObserve(o.child("observe"))
	e.Sources, e.LogStreams = parseSources(o)
	e.LogCrawlTime = parseLogCrawlTime(o, len(e.LogStreams) > 0)
	o.done()
	return e
}

func parseLake(o *object, production bool, removal Removal) Lake {
	l := Lake{
		RawInfrequentAccessAfterDays:     int(o.integer("rawInfrequentAccessAfterDays", 30, 30, 36500)),
		RawGlacierAfterDays:              int(o.integer("rawGlacierAfterDays", 90, 1, 36500)),
		NoncurrentVersionExpireAfterDays: int(o.integer("noncurrentVersionExpireAfterDays", 30, 1, 36500)),
		QueryResultsExpireAfterDays:      int(o.integer("queryResultsExpireAfterDays", 7, 1, 365)),
		AccessLogsExpireAfterDays:        int(o.integer("accessLogsExpireAfterDays", 365, 1, 36500)),
		Protection:                       o.boolean("protection", production),
		BackupRetentionDays:              int(o.integer("backupRetentionDays", 365, 35, 36500)),
		BreakGlassRoleArn:                o.str("breakGlassRoleArn", ""),
	}
	if l.BreakGlassRoleArn != "" && !roleArnRE.MatchString(l.BreakGlassRoleArn) {
		o.errs.add(o.key("breakGlassRoleArn"), "%q is not an IAM role ARN; give the break-glass role as arn:aws:iam::<account>:role/<name>, or remove the key", l.BreakGlassRoleArn)
	}
	// (A production environment with destroy is refused under removalPolicy already.)
	if l.Protection && removal == Destroy && !production {
		o.errs.add(o.key("protection"), `a protected raw zone cannot be emptied on destroy, and its backups outlive the stack; set "protection": false, or removalPolicy "retain"`)
	}
	// S3 rejects a Glacier transition less than 30 days after the Standard-IA one.
	if min := l.RawInfrequentAccessAfterDays + 30; l.RawGlacierAfterDays < min {
		o.errs.add(o.key("rawGlacierAfterDays"), "must be at least 30 days after rawInfrequentAccessAfterDays (%d); set it to %d or more",
			l.RawInfrequentAccessAfterDays, min)
	}
	o.done()
	return l
}

func parseAthena(o *object) Athena {
	a := Athena{
		BytesScannedCutoffPerQuery: o.integer("bytesScannedCutoffPerQuery", 100<<30, minBytesScannedCutoff, 1<<62),
		ActiveQueryQuota:           int(o.integer("activeQueryQuota", 20, 1, 10000)),
		ReservedQueries:            int(o.integer("reservedQueries", 5, 0, 10000)),
	}
	if a.ReservedQueries > a.ActiveQueryQuota-minBackfillConcurrency {
		o.errs.add(o.key("reservedQueries"), "must leave at least %d of activeQueryQuota (%d) to backfill; set it to %d or less",
			minBackfillConcurrency, a.ActiveQueryQuota, max(a.ActiveQueryQuota-minBackfillConcurrency, 0))
	}
	o.done()
	return a
}

func parseAggregate(o *object) Aggregate {
	a := Aggregate{
		LookbackDays: int(o.integer("lookbackDays", plan.DefaultLookbackDays, 1, plan.MaxLookbackDays)),
		SupersededRunGraceHours: int(o.integer("supersededRunGraceHours", int64(ctas.DefaultSupersededGrace/time.Hour),
			int64(MinSupersededRunGraceHours), 720)),
	}
	o.done()
	return a
}

func parseBackfill(o *object, a Athena) Backfill {
	headroom := a.ActiveQueryQuota - a.ReservedQueries
	def := int64(min(10, max(headroom, minBackfillConcurrency)))
	b := Backfill{
		MaxConcurrency:     int(o.integer("maxConcurrency", def, minBackfillConcurrency, 1000)),
		MaxDays:            int(o.integer("maxDays", 1096, 1, 36600)),
		MaxMessageAgeHours: int(o.integer("maxMessageAgeHours", 72, 1, 1<<20)),
		EarliestDay:        o.str("earliestDay", ""),
	}
	if b.EarliestDay != "" {
		if _, err := layout.ParseDay(b.EarliestDay); err != nil {
			o.errs.add(o.key("earliestDay"), "%v; give the first day of your data, such as \"2024-04-01\"", err)
		}
	}
	if b.MaxMessageAgeHours > maxBackfillMessageAgeHours {
		o.errs.add(o.key("maxMessageAgeHours"), "%d hours would alarm too late: the backfill queue deletes a job after 14 days; set it to %d or less",
			b.MaxMessageAgeHours, maxBackfillMessageAgeHours)
	}
	// Too little headroom is reported once, under athena.reservedQueries.
	if headroom >= minBackfillConcurrency && b.MaxConcurrency > headroom {
		o.errs.add(o.key("maxConcurrency"), "%d is above the Athena headroom (athena.activeQueryQuota %d - athena.reservedQueries %d = %d); lower it or raise the quota",
			b.MaxConcurrency, a.ActiveQueryQuota, a.ReservedQueries, headroom)
	}
	o.done()
	return b
}

func parseObserve(o *object) Observe {
	ob := Observe{
		FreshnessLagHours:     int(o.integer("freshnessLagHours", 36, 1, 1<<20)),
		LambdaErrorsThreshold: int(o.integer("lambdaErrorsThreshold", 1, 1, 100000)),
	}
	switch lag := ob.FreshnessLagHours; {
	case lag < minFreshnessLagHours:
		o.errs.add(o.key("freshnessLagHours"), "%d hours would alarm every day: the daily run publishes each KPI once a day; set it to %d or more",
			lag, minFreshnessLagHours)
	case lag > maxFreshnessLagHours:
		o.errs.add(o.key("freshnessLagHours"), "%d hours is beyond what CloudWatch can evaluate (7 days of hourly periods); set it to %d or less",
			lag, maxFreshnessLagHours)
	}
	o.done()
	return ob
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &Error{Problems: slices.Clone(p.list)}
}

// Error lists every configuration problem found.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid kpilake configuration in cdk.json (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}
