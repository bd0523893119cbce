// Package queries is the KPI catalog: one SQL file per KPI in this directory, embedded in the
// binary, parsed and validated here, and rendered for one business day. The constructs (at
// synth) and the Lambdas (at run time) import it; it imports no CDK code and no cgo.
//
// # A KPI file
//
// queries/<name>.sql starts with a header of "--" lines, then holds one SELECT (or WITH ...
// SELECT) that computes the KPI for one business day:
//
//	-- name: department_activity
//	-- description: Posts, comments, reactions and thanks per department on the day: the live
//	--   rows created that day, counted under the department of the user who acted.
//	-- depends_on:
//	-- sources: social.users, social.posts, social.comments, social.reactions
//	--
//	-- Free notes, after an empty "--" line, until the query.
//	SELECT ...
//
// name is the KPI's snake_case name and must equal the file name; description is required (an
// indented line continues it); depends_on lists the KPIs it reads; sources lists the raw tables
// it reads, <source>.<table> (log streams are app_logs.<stream>). The header must list exactly
// what the query reads, no more and no less.
//
// The SELECT's columns are the KPI table's columns; it must not output a column named dt,
// which the runner adds as the partition. Comments in the query are kept in the rendered SQL.
//
// # Template functions
//
// Tables are read only through template functions, which render the partition filter
// themselves, so that every run scans the days it aggregates and nothing else:
//
//	{{ source "social" "posts" }}           (SELECT * FROM "<db>"."social_posts" WHERE "dt" = 'D')
//	{{ source_window "social" "posts" 7 }}  the same over "dt" BETWEEN 'D-6' AND 'D'
//	{{ events "app_logs" "web_access" }}    a log stream by event time: the arrival partitions D
//	                                        and D+1 (layout.LogLateDays), the records whose
//	                                        timestamp (layout.LogTimeField) falls on D
//	{{ events_window "app_logs" "web_access" 7 }}  the records stamped D-6 to D
//	{{ state "social" "posts" }}            (SELECT * FROM "<db>"."kpi_state_social_posts" WHERE "dt" = 'D')
//	{{ kpi "department_activity" }}         (SELECT * FROM "<db>"."kpi_department_activity" WHERE "dt" = 'D')
//	{{ kpi_window "department_activity" 7 }}
//	{{ day }}                               DATE 'D'
//	{{ day_start }}, {{ day_end }}          the instants D 00:00 and D+1 00:00 in the business
//	                                        time zone, as UTC timestamp literals
//	{{ day_start -6 }}, {{ day_end -1 }}    the same, days before D
//
// {{ state }} reads an incremental table's state at the end of D: one row per primary key, the
// latest version up to D's partition. The catalog adds a state node (layout.StateName, a KPI
// whose query KPI.RenderState generates) for each table read that way, and makes the KPI depend
// on it; the KPI lists the table under sources.
//
// Arguments are double-quoted snake_case names or small integers (windows: 1 to 366 days); a
// template call may appear only in SQL code, on one line. A FROM or JOIN of anything else (a
// catalog table, a qualified name, a table function, a file) is rejected with the file, the line
// and the call to use, unless it names a CTE the query defines; so is the keyword TABLE.
//
// The business day is the partition; timestamps in the lake are UTC instants. "Created on day D"
// is created_at >= {{ day_start }} AND created_at < {{ day_end }}: for Asia/Tokyo and D =
// 2026-11-24, [2026-11-23 15:00 UTC, 2026-11-24 15:00 UTC). Never bucket by a UTC date, and never
// use time-zone functions, which the two engines spell and evaluate differently.
//
// Only two things are substituted when rendering: the day, a layout.Day (which only
// time.Parse makes, so it is always YYYY-MM-DD), and catalog identifiers from Names, checked to
// be lowercase letters, digits and _ and written in double quotes. Everything else in the file
// is validated when the catalog is parsed.
//
// # Data semantics
//
// Snapshot tables (departments, users) hold in partition D the whole table as extracted after
// D. Incremental tables (posts, comments, reactions, by updated_at) hold in partition D the
// current version, as of the extraction that wrote it (the next morning, or a later re-run), of
// every row changed since D began (lambdas/extract, "Modes"): partitions overlap, and a row
// created on D is always in D's partition, possibly in a version from after D. A KPI for D over
// an incremental table therefore (a) chooses rows by an event-time column within [{{ day_start
// }}, {{ day_end }}) (such as created_at), never by the partition alone, and (b) reads state as
// of the end of D: a soft delete counts only if deleted_at < {{ day_end }} (live is deleted_at
// IS NULL OR deleted_at >= {{ day_end }}). Then a change after D, even one before D's
// extraction or in a re-run a week later, does not move D's figure, and history is never
// rewritten. A hard-deleted row is in no later extraction: such tables need soft deletes or
// snapshot mode. Log streams hold in partition D the records that arrived during D, whenever they
// happened: count them with {{ events ... }}, which reads D+1's arrival partition too and keeps
// the records stamped on D. The plan publishes such a KPI's day once its late records have landed
// (lambdas/plan, EnvLogLateness).
//
// # Planning
//
// Catalog.Waves turns a set of KPIs into waves for the workflow and the backfill: the KPIs
// asked for plus everything downstream of them (their dependents), each wave depending only on
// earlier ones.
//
// # Portable SQL and dialect shims
//
// Athena engine 3 (Trino) runs the SQL; the tests run the same SQL on DuckDB over fixture
// Parquet. Queries stay in the subset both engines read alike. The lexer rejects what they read
// differently: ';', '?', '$', backquotes, DuckDB's :: casts and E'...' strings, nested block
// comments, and non-ASCII characters outside strings, comments and quoted identifiers. Other
// rules, which the DuckDB tests catch through output types and hand-checked results:
//   - count with COUNT(CASE WHEN ... THEN 1 END); DuckDB's SUM of BIGINT is HUGEINT, which
//     Athena has no type for (or CAST(SUM(x) AS BIGINT));
//   - divide as DOUBLE with a NULLIF'd divisor: DuckDB's integer '/' is a float division and
//     its x/0 is Inf, where Trino truncates and fails on division by zero;
//   - output columns are lowercase snake_case (Glue lowercases them; DuckDB keeps the case).
//
// The dialect shims, all in Names.Dialect and each tested:
//
//  1. {{ day_start }} and {{ day_end }}: DuckDB reads the extractor's TIMESTAMP(MILLIS, UTC)
//     columns as TIMESTAMP WITH TIME ZONE, Athena as timestamp(3) holding the UTC wall clock.
//     Athena gets TIMESTAMP '2026-11-23 15:00:00.000'; DuckDB gets TIMESTAMPTZ
//     '2026-11-23 15:00:00.000+00:00', which does not depend on the session's TimeZone (a plain
//     TIMESTAMP literal would be read in it).
//
//  2. {{ events ... }} parses a record's timestamp, a string in the catalog, with Athena's
//     from_iso8601_timestamp and DuckDB's CAST AS TIMESTAMPTZ, and compares it with literals that
//     carry their zone (TIMESTAMP '... UTC', TIMESTAMPTZ '...+00:00'). A timestamp that is not RFC
//     3339 fails the query, naming the value, rather than dropping the record; a record without
//     one counts on its arrival day.
//
// Only identifiers differ otherwise: Names.Database is the Glue database on Athena and a schema
// on DuckDB, holding views named like the catalog tables. Those views must declare the partition
// column dt as VARCHAR (Glue's type; DuckDB's hive partitioning would infer DATE) and read log
// streams with the column types the Glue crawler infers; duckdb_test.go shows how.
package queries
