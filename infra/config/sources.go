package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kpilake/kpilake/lambdas/aggregate"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// Source is a database whose tables are extracted into the raw zone every day.
type Source struct {
	// Name is the source's snake_case name; it is the raw-zone folder and the table prefix.
	Name string
	// Engine is mysql (Aurora MySQL) or postgresql (Aurora PostgreSQL).
	Engine Engine
	// SecretArn is the Secrets Manager secret with the read-only user's credentials, in the RDS
	// JSON shape (username, password, host, port, dbname).
	SecretArn string
	// SecretKeyArn is the KMS key that encrypts the secret, when it is not the AWS managed key.
	// Default: "".
	SecretKeyArn string
	// Database is the database (schema) to read. Default: the secret's dbname.
	Database string
	// StoredTimeZone is the zone in which the database stores zone-less DATETIME / timestamp
	// values. Default: UTC.
	StoredTimeZone string
	// Schedule is the daily EventBridge Scheduler cron expression, in the business time zone.
	// Default: cron(0 2 * * ? *) (02:00).
	Schedule string
	// MaxConcurrency bounds the tables extracted at once. Default: 4.
	MaxConcurrency int
	// MemoryMB of the extraction function. Default: 1024.
	MemoryMB int
	// SubnetIDs and SecurityGroupIDs place the extraction function where it can reach the
	// database. Required.
	SubnetIDs        []string
	SecurityGroupIDs []string
	// Tables to extract. Required, at least one.
	Tables []Table
}

// TableMode says which rows of a table a daily run exports.
type TableMode string

// Table modes.
const (
	// Snapshot exports the whole table, as of the run.
	Snapshot TableMode = "snapshot"
	// Incremental exports the rows whose TimestampColumn is at or after the start of the
	// business day, as the extraction finds them (lambdas/extract, "Modes").
	Incremental TableMode = "incremental"
)

// Table is one extracted table.
type Table struct {
	Name string
	// Mode is snapshot or incremental. Default: snapshot.
	Mode TableMode
	// TimestampColumn is the last-changed column of an incremental table.
	TimestampColumn string
	// Exclude lists columns that never leave the database.
	Exclude []string
	// Hash lists columns replaced by a salted HMAC-SHA256, so they can be joined but not read.
	Hash []string
	// Key is an incremental table's primary key: the columns, as the catalog names them
	// (lowercase), that identify a row across its daily partitions. The state of the table
	// ({{ state }}) keeps one row per key. Default: DefaultKey (["id"]) for an incremental table.
	Key []string
}

// StateKeys are the primary keys of the environment's incremental tables (Table.Key), as the
// functions that build the state nodes read them (contract.EnvStateKeys).
func (e *Environment) StateKeys() aggregate.StateKeys {
	keys := aggregate.StateKeys{}
	for _, src := range e.Sources {
		for _, t := range src.Tables {
			if t.Mode == Incremental {
				keys[queries.SourceTable{Source: src.Name, Table: t.Name}] = t.Key
			}
		}
	}
	return keys
}

// StateKeysRead are the StateKeys of the tables that kpis' state nodes read ({{ state }}): the
// only ones the aggregate functions use. Every incremental table of a few dozen sources would
// pass Lambda's 4 KB of environment variables.
func (e *Environment) StateKeysRead(kpis *queries.Catalog) aggregate.StateKeys {
	all := e.StateKeys()
	keys := aggregate.StateKeys{}
	for _, name := range kpis.States() {
		k, _ := kpis.KPI(name)
		if t, ok := k.StateOf(); ok {
			if key, ok := all[t]; ok {
				keys[t] = key
			}
		}
	}
	return keys
}

// DefaultKey is the primary key of an incremental table whose configuration gives none.
var DefaultKey = []string{"id"}

// keyColumnRE is a key column as the Glue Data Catalog names it: crawlers lowercase column names.
var keyColumnRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)

// LogStream is an application log stream delivered by Firehose into raw/app_logs/<name>/.
type LogStream struct {
	// Name is the stream's snake_case name.
	Name string
}

var (
	roleArnRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`)
	secretArnRE = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$`)
	kmsArnRE    = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$`)
	subnetRE    = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	sgRE        = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	dbNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,63}$`)
	columnRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,63}$`)
)

// DefaultExtractionMemoryMB is the extraction function's memory (and so CPU share).
const DefaultExtractionMemoryMB = 1024

// DefaultSchedule runs the extraction at 02:00 in the business time zone.
const DefaultSchedule = "cron(0 2 * * ? *)"

func parseSources(o *object) ([]Source, []LogStream) {
	var sources []Source
	names := map[string]string{}
	for _, so := range o.list("sources") {
		s := parseSource(so)
		if s.Name != "" {
			if prev, dup := names[s.Name]; dup {
				so.errs.add(so.key("name"), "%q is already used by %s; names must be unique", s.Name, prev)
			}
			names[s.Name] = so.path
		}
		sources = append(sources, s)
	}
	var streams []LogStream
	streamNames := map[string]bool{}
	for _, lo := range o.list("logStreams") {
		l := LogStream{Name: lo.requiredStr("name", `give the stream a snake_case name, such as "web_access"`)}
		if l.Name != "" {
			if err := layout.ValidateName("log stream", l.Name); err != nil {
				lo.errs.add(lo.key("name"), "%v", err)
			}
			if streamNames[l.Name] {
				lo.errs.add(lo.key("name"), "log stream %q is defined twice; names must be unique", l.Name)
			}
			streamNames[l.Name] = true
		}
		lo.done()
		streams = append(streams, l)
	}
	checkCatalogNames(o, sources, streams)
	return sources, streams
}

// checkCatalogNames makes sure that every raw table gets a catalog table of its own: Glue names
// it <source>_<table> in the database that also holds the KPI tables and the CTAS runs' temporary
// tables, so social.a_b and social_a.b, or app.logs_web_access and the log stream web_access,
// would be one table, and a source named kpi would catalogue its tables as KPI tables.
func checkCatalogNames(o *object, sources []Source, streams []LogStream) {
	type origin struct{ key, what string }
	seen := map[string]origin{}
	claim := func(name string, at origin, renameKey, rename string) {
		for _, r := range []struct{ prefix, owner string }{
			{layout.KPITablePrefix, "the KPI tables"},
			{layout.TempTablePrefix, "the CTAS runs' temporary tables"},
		} {
			if strings.HasPrefix(name, r.prefix) {
				o.errs.add(renameKey, "%s would be catalogued as %q, and the prefix %q is reserved for %s; %s",
					at.what, name, r.prefix, r.owner, rename)
				return
			}
		}
		if prev, dup := seen[name]; dup {
			if prev.what == at.what {
				return // the same table or stream twice: reported where its name is read
			}
			o.errs.add(at.key, "the catalog table of %s would be %q, which is also the table of %s (%s): Glue joins names with \"_\"; rename one of them",
				at.what, name, prev.what, prev.key)
			return
		}
		seen[name] = at
	}
	for i, s := range sources {
		if s.Name == "" {
			continue
		}
		srcKey := fmt.Sprintf("%s[%d]", o.key("sources"), i)
		for j, t := range s.Tables {
			if t.Name == "" {
				continue
			}
			name := layout.SourceTableName(s.Name, t.Name)
			at := origin{key: fmt.Sprintf("%s.tables[%d].name", srcKey, j), what: s.Name + "." + t.Name}
			renameKey, rename := at.key, "rename the table (extract a view under another name)"
			if strings.HasPrefix(layout.CrawlerTablePrefix(s.Name), layout.KPITablePrefix) ||
				strings.HasPrefix(layout.CrawlerTablePrefix(s.Name), layout.TempTablePrefix) {
				renameKey, rename = srcKey+".name", "rename the source"
			}
			claim(name, at, renameKey, rename)
		}
	}
	for i, l := range streams {
		if l.Name == "" {
			continue
		}
		at := origin{key: fmt.Sprintf("%s[%d].name", o.key("logStreams"), i), what: "log stream " + l.Name}
		claim(layout.SourceTableName(layout.AppLogsSource, l.Name), at, at.key, "rename the stream")
	}
}

func parseSource(so *object) Source {
	s := Source{
		Name:   so.requiredStr("name", `give the source a snake_case name, such as "sales_db"`),
		Engine: Engine(so.requiredStr("engine", `set "mysql" or "postgresql"`)),
	}
	if s.Name != "" {
		if err := layout.ValidateName("source", s.Name); err != nil {
			so.errs.add(so.key("name"), "%v", err)
		} else if s.Name == layout.AppLogsSource {
			so.errs.add(so.key("name"), "%q is reserved for Firehose log streams; choose another name", s.Name)
		}
	}
	if s.Engine != "" && s.Engine != MySQL && s.Engine != PostgreSQL {
		so.errs.add(so.key("engine"), `%q is not supported; use "mysql" (Aurora MySQL) or "postgresql" (Aurora PostgreSQL)`, s.Engine)
	}
	s.SecretArn = so.requiredStr("secretArn", "give the ARN of the Secrets Manager secret with the read-only user's credentials")
	if s.SecretArn != "" && !secretArnRE.MatchString(s.SecretArn) {
		so.errs.add(so.key("secretArn"), "%q is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)", s.SecretArn)
	}
	s.SecretKeyArn = so.str("secretKeyArn", "")
	if s.SecretKeyArn != "" && !kmsArnRE.MatchString(s.SecretKeyArn) {
		so.errs.add(so.key("secretKeyArn"), "%q is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); remove it if the secret uses the AWS managed key", s.SecretKeyArn)
	}
	s.Database = so.str("database", "")
	if s.Database != "" && !dbNameRE.MatchString(s.Database) {
		so.errs.add(so.key("database"), "%q is not a database name; use letters, digits, _ and $ (or remove it to use the secret's dbname)", s.Database)
	}
	s.StoredTimeZone = so.str("storedTimeZone", "UTC")
	if _, err := time.LoadLocation(s.StoredTimeZone); err != nil || s.StoredTimeZone == "" || s.StoredTimeZone == "Local" {
		so.errs.add(so.key("storedTimeZone"), "%q is not an IANA time zone; use the zone the database stores DATETIME values in, such as \"UTC\"", s.StoredTimeZone)
	}
	s.Schedule = so.str("schedule", DefaultSchedule)
	if err := checkCron(s.Schedule); err != nil {
		so.errs.add(so.key("schedule"), "%q is not an EventBridge Scheduler cron expression: %v; use six fields such as %q (in the business time zone)", s.Schedule, err, DefaultSchedule)
	}
	s.MaxConcurrency = int(so.integer("maxConcurrency", 4, 1, 40))
	s.MemoryMB = int(so.integer("memoryMB", DefaultExtractionMemoryMB, 256, 10240))
	s.SubnetIDs = idList(so, "subnetIds", subnetRE, `"subnet-0123456789abcdef0"`, "subnets the function runs in (private, with a route to the database)")
	s.SecurityGroupIDs = idList(so, "securityGroupIds", sgRE, `"sg-0123456789abcdef0"`, "security groups the database accepts connections from")
	s.Tables = parseTables(so)
	so.done()
	return s
}

func idList(o *object, k string, re *regexp.Regexp, example, what string) []string {
	ids := o.strings(k)
	if raw, _ := o.m[k].([]any); len(raw) == 0 && (o.m[k] == nil || raw != nil) {
		o.errs.add(o.key(k), "give at least one ID: the %s, such as [%s]", what, example)
	}
	for i, id := range ids {
		if !re.MatchString(id) {
			o.errs.add(fmt.Sprintf("%s[%d]", o.key(k), i), "%q is not an ID such as %s", id, example)
		}
	}
	return ids
}

func parseTables(so *object) []Table {
	items := so.list("tables")
	if len(items) == 0 {
		so.errs.add(so.key("tables"), `give at least one table, such as [{"name": "users"}]`)
	}
	var tables []Table
	seen := map[string]bool{}
	for _, to := range items {
		t := Table{Name: to.requiredStr("name", `give the table's name, such as "users"`)}
		if t.Name != "" {
			if err := layout.ValidateName("table", t.Name); err != nil {
				to.errs.add(to.key("name"), "%v", err)
			}
			if seen[t.Name] {
				to.errs.add(to.key("name"), "table %q is listed twice; list each table once", t.Name)
			}
			seen[t.Name] = true
		}
		t.Mode = TableMode(to.str("mode", string(Snapshot)))
		t.TimestampColumn = to.str("timestampColumn", "")
		switch t.Mode {
		case Snapshot:
			if t.TimestampColumn != "" {
				to.errs.add(to.key("timestampColumn"), `applies to incremental tables only; remove it or set "mode": "incremental"`)
			}
		case Incremental:
			if t.TimestampColumn == "" {
				to.errs.add(to.key("timestampColumn"), `is required for an incremental table; name its last-changed column, such as "updated_at"`)
			}
		default:
			to.errs.add(to.key("mode"), `%q is not a mode; use "snapshot" (whole table) or "incremental" (rows changed since the day began)`, t.Mode)
		}
		if t.TimestampColumn != "" && !columnRE.MatchString(t.TimestampColumn) {
			to.errs.add(to.key("timestampColumn"), "%q is not a column name", t.TimestampColumn)
		}
		t.Exclude = columns(to, "exclude")
		t.Hash = columns(to, "hash")
		for _, c := range t.Hash {
			for _, x := range t.Exclude {
				if c == x {
					to.errs.add(to.key("hash"), "column %q is also excluded; keep it in one list", c)
				}
			}
			if c == t.TimestampColumn {
				to.errs.add(to.key("hash"), "column %q is the timestampColumn; it cannot be hashed", c)
			}
		}
		for _, x := range t.Exclude {
			if x == t.TimestampColumn {
				to.errs.add(to.key("exclude"), "column %q is the timestampColumn; it cannot be excluded", x)
			}
		}
		t.Key = tableKey(to, t)
		to.done()
		tables = append(tables, t)
	}
	return tables
}

// tableKey reads an incremental table's key, DefaultKey when it gives none.
func tableKey(to *object, t Table) []string {
	v, given := to.get("key")
	if !given {
		if t.Mode == Incremental {
			return DefaultKey
		}
		return nil
	}
	if t.Mode != Incremental {
		to.errs.add(to.key("key"), `applies to incremental tables only (the state of a snapshot table is its partition); remove it or set "mode": "incremental"`)
		return nil
	}
	key := to.strings("key")
	if list, isList := v.([]any); isList && len(list) == 0 {
		to.errs.add(to.key("key"), `give the table's primary key columns, such as ["id"], or remove it for the default ["id"]`)
	}
	seen := map[string]bool{}
	for i, c := range key {
		at := fmt.Sprintf("%s[%d]", to.key("key"), i)
		switch {
		case !keyColumnRE.MatchString(c):
			to.errs.add(at, "%q is not a column name as the catalog has it; use lowercase letters, digits and _ (%q)", c, strings.ToLower(c))
		case seen[c]:
			to.errs.add(at, "column %q is listed twice", c)
		case slices.Contains(t.Exclude, c):
			to.errs.add(at, "column %q is excluded from the extraction; a key must reach the lake, so remove it from exclude", c)
		}
		seen[c] = true
	}
	return key
}

func columns(o *object, k string) []string {
	cols := o.strings(k)
	seen := map[string]bool{}
	for i, c := range cols {
		if !columnRE.MatchString(c) {
			o.errs.add(fmt.Sprintf("%s[%d]", o.key(k), i), "%q is not a column name", c)
		}
		if seen[c] {
			o.errs.add(fmt.Sprintf("%s[%d]", o.key(k), i), "column %q is listed twice", c)
		}
		seen[c] = true
	}
	return cols
}
