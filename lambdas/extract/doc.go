// Package extract exports one table of one source database (Aurora MySQL or Aurora PostgreSQL)
// for one business day into the lake's raw zone, as one Parquet object:
//
//	<source>/<table>/dt=YYYY-MM-DD/<table>.parquet      (ObjectKey, from package layout)
//
// It runs inside the extraction Lambda and imports no CDK code. A Lambda main builds one
// Extractor per instance (New) and hands Extractor.Handle to lambda.Start; the infra code
// serializes a SourceSpec to JSON for it (contract.EnvSource and the other Env* names). A local run
// builds one over a RowSource instead of a database server (NewWithRows), and everything below
// but steps 1 and 2 applies to it unchanged.
//
// # How a run works
//
//  1. The credentials come from a Secrets Manager secret in the RDS JSON shape
//     {"username","password","host","port","dbname","engine"}.
//  2. The connection uses TLS, verified against the caller's CA pool (the RDS CA bundle), and
//     opens a read-only transaction on one snapshot: MySQL `SET SESSION TRANSACTION READ ONLY`
//     and `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY` (session time_zone +00:00);
//     PostgreSQL `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY` (TimeZone UTC). Only a
//     local run, with Config.PlaintextLoopback and no CA pool, connects without TLS, and only to
//     a loopback host.
//  3. information_schema describes the table before a row is read. An unknown table, a column
//     named in Exclude, Hash or TimestampColumn that the table lacks, or a column whose type has
//     no mapping fails the run with an *InputError (errors.Is(err, ErrBadRequest)) that names
//     the table, the field and the column.
//  4. Rows stream from the server (MySQL: a prepared statement read off the socket row by row;
//     PostgreSQL: pgx's row iterator) into a parquet-go writer that ends a row group every
//     Config.RowGroupRows rows or about Config.RowGroupBytes bytes, and through an io.Pipe into
//     one S3 multipart upload with Config.UploadConcurrency parts of Config.PartSize in memory.
//     Memory is one row group of compressed pages plus those parts, whatever the table's size.
//  5. The object appears, replacing the day's previous object, only when
//     CompleteMultipartUpload succeeds. Any failure (database, data, S3, deadline) aborts the
//     upload, so readers see the old day or the new one, never a mix and never nothing. The run
//     stops Config.CleanupMargin before the Lambda deadline to leave time for the abort. A bucket
//     lifecycle rule that aborts incomplete multipart uploads should catch the rest.
//
// # Modes
//
// snapshot exports the whole table as of the transaction. dt=D of a snapshot table is its history:
// the table as it was right after D, taken by the daily run early on D+1, which is what a KPI of D
// joins (a user's department on D, a department's name on D). A snapshot taken later would replace
// that history with a later state, so a run refuses it: for a snapshot table, a request whose day D
// is before R-1, where R is the business day (TimeZone) of Config.Now, fails with an *InputError
// (the workflow does not retry it) that names the table, the day, why, and the fix, and leaves dt=D
// as it was; Request.Force (an execution input "force": true) replaces it anyway. The days are
// calendar days in the business zone, not 24-hour spans, so a DST day changes nothing: D is
// accepted until the last instant of D+1 (a run at D+1 00:00:00.000 or
// 23:59:59.999 is the daily run; one at D+2 00:00:00.000 is refused). A schedule must therefore
// start the run on D+1: a run delayed past midnight of D+2 (a schedule near midnight, long retries)
// is refused and alerts, because its snapshot would carry D+2's changes. A day of R or later is not
// refused. Incremental tables are unaffected: their partitions are increments, and a re-run only
// adds newer versions (below). TestSnapshot_RefusesADayOlderThanTheDayBeforeTheRun (boundaries, UTC
// against the business zone, DST in America/New_York) and
// TestMariaDB_RefusedSnapshotKeepsTheDaysPartition hold this.
//
// incremental exports, for day D, the current version (as of the transaction's snapshot) of
// every row whose TimestampColumn is at or after D 00:00 in the business TimeZone (every row, on
// the table's first day in the lake: with no earlier dt= partition of the table in the bucket, the
// run is its initial load, Result.Initial, so that the table's state knows the rows unchanged since
// before the lake began; TestIncremental_TheTablesFirstDayInTheLakeExportsEveryRow), with no upper
// bound: the window ends at the extraction's own snapshot. For 2026-11-24 in Asia/Tokyo
// (from 2026-11-23T15:00Z), 00:00:00 that morning is in, 23:59:59.999999 the evening before is
// not, and a row created at 23:00 and edited at 01:00 the next morning, before the 01:30 run,
// is in with its edit. The midnight follows the zone's rules for D, DST days included. A
// timestamp in the future (a writer's skewed clock) is kept. Zone-less columns (MySQL DATETIME,
// PostgreSQL timestamp) are compared on wall clocks in StoredTimeZone; MySQL TIMESTAMP and
// PostgreSQL timestamptz are compared as instants.
//
// What follows, for readers of the raw zone:
//   - Partitions overlap: a row changed on D+1 before D's extraction is in dt=D and dt=D+1.
//   - A row created on D is always in dt=D (its TimestampColumn, the last change, is at or after
//     its creation), unless it was hard-deleted before the extraction.
//   - A re-run of D replaces dt=D with newer versions and more rows and never loses a row that
//     the earlier run had, except hard-deleted ones: a hard-deleted row vanishes from every later
//     extraction. Use soft deletes (a deleted_at column) or snapshot mode for such tables.
//   - A row whose TimestampColumn is NULL is in no incremental partition; use a NOT NULL column
//     that every write sets.
//   - A KPI reads state as of the end of its day: it chooses rows by an event-time column within
//     [day_start, day_end) (such as created_at) and counts a soft delete only if deleted_at <
//     day_end, so that a change after midnight, or a re-run a week later, leaves D's figure as it
//     was.
//
// TestIncremental_KeepsRowEditedAfterMidnight, TestIncremental_RerunOfAnOlderDayKeepsEveryRowOfTheFirstRun
// and TestIncremental_WindowStartsAtTheBusinessMidnight hold this on both engines.
//
// # Type mapping
//
// Every column is OPTIONAL. Physical type and logical annotation as Athena (Trino) reads them:
//
//	MySQL / MariaDB                           PostgreSQL                           Parquet
//	----------------------------------------  -----------------------------------  -------------------------------------------
//	tinyint, smallint, mediumint, int, year   smallint, integer                    INT32 (INT(32,signed))
//	tinyint/smallint/mediumint unsigned                                            INT32 (INT(32,signed))
//	int unsigned, bigint                      bigint                               INT64 (INT(64,signed))
//	bigint unsigned, bit(64)                                                       FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0)
//	tinyint(1), bool, boolean, bit(1)         boolean, bit(1)                      BOOLEAN (tinyint(1): non-zero is true)
//	bit(2..63)                                                                     INT64 (INT(64,signed))
//	decimal(p,s), p <= 9                      numeric(p,s), p <= 9                 INT32 DECIMAL(p,s)
//	decimal(p,s), 10 <= p <= 18               numeric(p,s), 10 <= p <= 18          INT64 DECIMAL(p,s)
//	decimal(p,s), 19 <= p <= 38               numeric(p,s), 19 <= p <= 38          FIXED_LEN_BYTE_ARRAY(n) DECIMAL(p,s)
//	decimal(p,s), p > 38                      numeric(p,s), p > 38 or s < 0;       BYTE_ARRAY STRING, the exact decimal text
//	                                          numeric without precision            (Athena's DECIMAL stops at 38 digits)
//	float                                     real                                 FLOAT
//	double, real                              double precision                     DOUBLE
//	char, varchar, tinytext, text,            char, varchar, text, name, citext,   BYTE_ARRAY STRING (UTF-8)
//	mediumtext, longtext, enum, set, uuid,    uuid, enum types, inet, cidr,
//	inet4, inet6                              macaddr, macaddr8, xml
//	json (MariaDB: longtext)                  json, jsonb                          BYTE_ARRAY STRING: Athena does not read the
//	                                                                               JSON annotation; use json_parse() in SQL
//	binary, varbinary, tinyblob, blob,        bytea                                BYTE_ARRAY, no annotation
//	mediumblob, longblob
//	date                                      date                                 INT32 DATE
//	time                                      time, timetz                         BYTE_ARRAY STRING "HH:MM:SS[.ffffff]" (timetz
//	                                                                               with its offset): Athena reads no Parquet TIME
//	datetime (wall clock in StoredTimeZone)   timestamp (wall clock in             INT64 TIMESTAMP(MILLIS, isAdjustedToUTC=true)
//	timestamp (UTC)                           StoredTimeZone), timestamptz         normalized to UTC
//	geometry, point, other spatial types,     point and other geometric types,     not supported: the run fails naming the
//	vector                                    arrays, interval, money, ranges,     column; Exclude it (or Hash it)
//	                                          tsvector, bit(n>1), varbit, ...
//
// Values are written as the database returns them, with these rules:
//   - Timestamps keep millisecond precision; finer digits are dropped toward the past (also
//     before 1970). A zone-less value is read in StoredTimeZone with the IANA rules of its date
//     (so Asia/Tokyo before 1888 is local mean time, +09:18:59).
//   - MySQL zero dates ('0000-00-00', '2026-00-00') become NULL. PostgreSQL 'infinity' dates and
//     timestamps and 'NaN' (or an infinity) in a numeric with precision have no Parquet form: the
//     run fails with an *InputError (the workflow does not retry it) that names the table, the
//     column and the row and the fixes: exclude or hash the column, or extract a view that casts
//     it (numeric to double precision, which keeps NaN, or NULLIF to NULL).
//   - char(n) loses its trailing padding in both engines. PostgreSQL numeric text, jsonb, inet
//     and timetz are in PostgreSQL's own text form (jsonb normalizes key order and spacing).
//   - A decimal that has more digits than its declared precision cannot occur; one that did
//     would fail the run rather than be rounded.
//
// # Hashed columns
//
// A column in TableSpec.Hash becomes BYTE_ARRAY STRING holding the lower-case hex
// HMAC-SHA256, keyed with Config.Salt, of the value's text as the database renders it (MySQL
// CAST(col AS CHAR); PostgreSQL col::text with TimeZone UTC) or, for binary columns, of its bytes.
// NULL stays NULL. HashValue computes the same value, for joins and tests. Any column type can be
// hashed, including the unsupported ones. The salt is never logged.
//
// # Logs and results
//
// Each Handle call logs one slog record (JSON in the Lambda) with source, table, date, key, mode,
// rows, bytes and duration_ms, or the error; credentials and the salt never appear. It returns a
// Result with the same figures.
package extract
