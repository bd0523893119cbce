package extract

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parquet-go/parquet-go"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/layout"
)

// Defaults of Config's tuning fields.
const (
	DefaultRowGroupRows      = 100_000
	DefaultRowGroupBytes     = 64 << 20
	DefaultPartSize          = 8 << 20
	DefaultUploadConcurrency = 4
	DefaultConnectTimeout    = 15 * time.Second
	// DefaultCleanupMargin is how long before the invocation's deadline the extraction stops,
	// so that the upload is aborted and the failure logged while the function still runs.
	DefaultCleanupMargin = 10 * time.Second
	// MinSaltLength is the shortest salt accepted for hashed columns.
	MinSaltLength = 16
)

// Config is what an Extractor needs besides its AWS clients.
type Config struct {
	// Source is the database and its tables. Required; it must pass Validate.
	Source SourceSpec
	// Bucket is the raw-zone bucket. Required.
	Bucket string
	// SecretID is the ARN (or name) of the RDS-style secret of the read-only user. Required.
	SecretID string
	// RootCAs verify the database's TLS certificate (the RDS CA bundle). Required, unless
	// PlaintextLoopback is set: in the Lambda, TLS is always on.
	RootCAs *x509.CertPool
	// PlaintextLoopback lets a local run connect without TLS, when RootCAs is nil, to a database
	// whose host is a loopback address (localhost, 127.0.0.0/8, ::1); any other host is an
	// *InputError. The Lambda never sets it. Default: false.
	PlaintextLoopback bool
	// Salt keys the HMAC of hashed columns. Required, at least MinSaltLength bytes, when a table
	// hashes a column. It is never logged.
	Salt []byte
	// Logger receives one JSON record per extraction. Default: slog.Default().
	Logger *slog.Logger
	// RowGroupRows and RowGroupBytes end a Parquet row group after that many rows or about
	// that many bytes of values, whichever comes first; a row group is held in memory
	// (compressed) until it is flushed. Default: DefaultRowGroupRows, DefaultRowGroupBytes.
	RowGroupRows  int
	RowGroupBytes int64
	// PartSize is the multipart upload's part size, at least 5 MiB; 10,000 parts bound the
	// object size (80 GB at 8 MiB). Default: DefaultPartSize.
	PartSize int
	// UploadConcurrency is the number of parts in memory and in flight. Default:
	// DefaultUploadConcurrency.
	UploadConcurrency int
	// ConnectTimeout bounds connecting to the database. Default: DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// CleanupMargin: see DefaultCleanupMargin. Default: DefaultCleanupMargin.
	CleanupMargin time.Duration
	// Metrics receives one EMF record per extracted table (rows, bytes, duration). Default: nil,
	// no metrics.
	Metrics *metrics.EMF
	// Tracer records a span per extraction, annotated with source, table and date. Default: no
	// tracing.
	Tracer Tracer
	// Now is the instant of the extraction, as the past-snapshot rule reads it (doc.go,
	// "Modes"): a snapshot table is refused for a day before the one before Now's business day.
	// A run that replays a database as it stood at an instant gives that instant. Default:
	// time.Now.
	Now func() time.Time
}

// Tracer opens a span around one extraction; lambdas/tracing implements it with X-Ray.
type Tracer interface {
	Start(ctx context.Context, name string, annotations map[string]string) (context.Context, func(annotations map[string]string, metadata map[string]any, err error))
}

// validate checks the configuration; server is false for an Extractor that reads a RowSource,
// which needs no secret and no TLS.
func (c *Config) validate(server bool) error {
	var errs []error
	if err := c.Source.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("Source: %w", err))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("Bucket is required; give the raw-zone bucket name"))
	}
	if server && c.SecretID == "" {
		errs = append(errs, errors.New("SecretID is required; give the ARN of the read-only user's secret"))
	}
	if server && c.RootCAs == nil && !c.PlaintextLoopback {
		errs = append(errs, errors.New("RootCAs is required; give the CA bundle that signs the database's certificate (the RDS CA bundle)"))
	}
	if !server && c.Source.Engine != MySQL {
		errs = append(errs, fmt.Errorf("Source.Engine: a RowSource stands for a %q database (its type mapping applies); set Engine %q", MySQL, MySQL))
	}
	hashes := false
	for _, t := range c.Source.Tables {
		hashes = hashes || len(t.Hash) > 0
	}
	if hashes && len(c.Salt) < MinSaltLength {
		errs = append(errs, fmt.Errorf("Salt: a table hashes columns, so give a secret salt of at least %d bytes", MinSaltLength))
	}
	if c.RowGroupRows < 0 || c.RowGroupBytes < 0 || c.UploadConcurrency < 0 || c.ConnectTimeout < 0 || c.CleanupMargin < 0 {
		errs = append(errs, errors.New("RowGroupRows, RowGroupBytes, UploadConcurrency, ConnectTimeout and CleanupMargin must not be negative; use 0 for the default"))
	}
	if c.PartSize != 0 && c.PartSize < minPartSize {
		errs = append(errs, fmt.Errorf("PartSize: %d bytes is below S3's minimum part size; use at least %d (5 MiB) or 0 for the default", c.PartSize, minPartSize))
	}
	return errors.Join(errs...)
}

// Extractor exports one table of one source for one business day into the raw zone.
type Extractor struct {
	cfg       Config
	secrets   SecretsAPI
	s3        S3API
	log       *slog.Logger
	business  *time.Location
	stored    *time.Location
	partSize  int // Config.PartSize or its default; tests lower it below S3's minimum
	connectTO time.Duration
	codec     *zstdCodec
	// open connects to the source; tests replace it to inject failures.
	open func(ctx context.Context, c dbCredentials, database string) (source, error)
	// rows, when set, opens the RowSource that replaces the database server (NewWithRows). A
	// func, so that a binary that never calls NewWithRows links none of it.
	rows func() source
}

// New checks cfg and returns an Extractor. Build it once per Lambda instance.
func New(cfg Config, secrets SecretsAPI, s3 S3API) (*Extractor, error) {
	if err := cfg.validate(true); err != nil {
		return nil, fmt.Errorf("extract.New: %w", err)
	}
	if secrets == nil || s3 == nil {
		return nil, errors.New("extract.New: give a Secrets Manager and an S3 client")
	}
	return newExtractor(cfg, secrets, s3), nil
}

// NewWithRows returns an Extractor that reads the tables of cfg.Source from rows instead of a
// database server, through the same planning (spec checks, the MySQL type mapping, Exclude and
// Hash, the incremental window), Parquet writer and multipart upload as New's. cfg.SecretID and
// cfg.RootCAs are not used; cfg.Source.Engine must be "mysql". A local run feeds the sample
// through it.
func NewWithRows(cfg Config, rows RowSource, s3 S3API) (*Extractor, error) {
	if err := cfg.validate(false); err != nil {
		return nil, fmt.Errorf("extract.NewWithRows: %w", err)
	}
	if rows == nil || s3 == nil {
		return nil, errors.New("extract.NewWithRows: give a RowSource and an S3 client")
	}
	e := newExtractor(cfg, nil, s3)
	e.rows = func() source { return &rowDB{rows: rows} }
	return e, nil
}

func newExtractor(cfg Config, secrets SecretsAPI, s3 S3API) *Extractor {
	e := &Extractor{cfg: cfg, secrets: secrets, s3: s3, log: cfg.Logger}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.business, _ = loadZone(cfg.Source.TimeZone)
	stored := cfg.Source.StoredTimeZone
	if stored == "" {
		stored = DefaultStoredTimeZone
	}
	e.stored, _ = loadZone(stored)
	e.partSize = orDefault(cfg.PartSize, DefaultPartSize)
	e.cfg.RowGroupRows = orDefault(cfg.RowGroupRows, DefaultRowGroupRows)
	e.cfg.RowGroupBytes = orDefault(cfg.RowGroupBytes, DefaultRowGroupBytes)
	e.cfg.UploadConcurrency = orDefault(cfg.UploadConcurrency, DefaultUploadConcurrency)
	e.connectTO = orDefault(cfg.ConnectTimeout, DefaultConnectTimeout)
	e.cfg.CleanupMargin = orDefault(cfg.CleanupMargin, DefaultCleanupMargin)
	if e.cfg.Now == nil {
		e.cfg.Now = time.Now
	}
	e.open = e.openSource
	e.codec = newZstdCodec()
	return e
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// ErrBadRequest marks failures that no retry can fix: a malformed request, or a table spec
// that does not match the database (unknown table or column, unsupported type). Such errors
// are InputErrors, which the Lambda reports as contract.InputErrorName, and a state machine
// catches without retrying.
var ErrBadRequest = contract.ErrBadRequest

// InputError is a failure that no retry can fix (contract.InputError); see ErrBadRequest.
type InputError = contract.InputError

func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// Handle extracts the requested table and day. On any failure the day's previous object, if
// any, stays in place. It logs one JSON record (source, table, date, rows, bytes, duration_ms).
func (e *Extractor) Handle(ctx context.Context, req Request) (Result, error) {
	start := time.Now()
	log := e.log.With("source", req.Source, "table", req.Table, "date", req.Date)
	if req.Force {
		log = log.With("force", true)
	}
	end := func(map[string]string, map[string]any, error) {}
	if e.cfg.Tracer != nil {
		ctx, end = e.cfg.Tracer.Start(ctx, "extract "+req.Source+"."+req.Table,
			map[string]string{"source": req.Source, "table": req.Table, "date": req.Date})
	}
	res, err := e.handle(ctx, req)
	res.DurationMs = time.Since(start).Milliseconds()
	end(nil, map[string]any{"rows": res.Rows, "bytes": res.Bytes, "duration_ms": res.DurationMs}, err)
	if err != nil {
		log.ErrorContext(ctx, "extract failed", "err", err, "rows", res.Rows, "bytes", res.Bytes,
			"duration_ms", res.DurationMs, "bad_request", errors.Is(err, ErrBadRequest))
		return Result{}, err
	}
	if res.Initial {
		log = log.With("initial", true)
	}
	log.InfoContext(ctx, "extracted", "key", res.Key, "mode", res.Mode, "rows", res.Rows,
		"bytes", res.Bytes, "duration_ms", res.DurationMs)
	if err := e.cfg.Metrics.Record(map[string]string{metrics.DimSource: res.Source, metrics.DimTable: res.Table},
		map[string]any{"date": res.Date, "key": res.Key, "mode": string(res.Mode)},
		metrics.Value{Name: metrics.RowsExtracted, Unit: metrics.Count, Value: float64(res.Rows)},
		metrics.Value{Name: metrics.BytesExtracted, Unit: metrics.Bytes, Value: float64(res.Bytes)},
		metrics.Value{Name: metrics.ExtractionDuration, Unit: metrics.Milliseconds, Value: float64(res.DurationMs)},
	); err != nil {
		log.WarnContext(ctx, "extract metrics not written", "err", err)
	}
	return res, nil
}

func (e *Extractor) handle(ctx context.Context, req Request) (Result, error) {
	var problems []string
	if req.Source != e.cfg.Source.Name {
		problems = append(problems, fmt.Sprintf("source %q is not this function's source %q", req.Source, e.cfg.Source.Name))
	}
	table, ok := e.cfg.Source.Table(req.Table)
	if !ok {
		problems = append(problems, fmt.Sprintf("table %q is not configured for source %q (configured: %s)", req.Table, e.cfg.Source.Name, tableNames(e.cfg.Source)))
	}
	day, err := layout.ParseDay(req.Date)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return Result{}, inputErrorf("%w: %s", ErrBadRequest, strings.Join(problems, "; "))
	}
	if err := e.checkSnapshotDay(table, day, req.Force); err != nil {
		return Result{}, err
	}
	res := Result{Source: req.Source, Table: req.Table, Date: day.String(), Mode: table.mode(),
		Key: ObjectKey(req.Source, req.Table, day)}
	if table.mode() == Incremental {
		if res.Initial, err = e.initialLoad(ctx, req.Source, table.Name, day); err != nil {
			return res, err
		}
	}

	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-e.cfg.CleanupMargin))
		defer cancel()
	}
	db, err := e.connect(ctx)
	if err != nil {
		return res, err
	}
	defer db.close()

	plan, err := e.plan(ctx, db, table, day, res.Initial)
	if err != nil {
		return res, err
	}
	res.Rows, res.Bytes, err = e.transfer(ctx, db, plan, res.Key)
	return res, err
}

// checkSnapshotDay refuses a snapshot of a day older than the day before the extraction's own
// business day, unless forced: dt=D of a snapshot table is the history of its rows as of D
// (the snapshot taken right after D), and a new snapshot would replace it with today's state.
func (e *Extractor) checkSnapshotDay(t TableSpec, day layout.Day, force bool) error {
	if t.mode() != Snapshot || force {
		return nil
	}
	now := e.cfg.Now()
	runDay := layout.DayOf(now, e.business)
	if !day.Before(runDay.AddDays(-1)) {
		return nil
	}
	return inputErrorf("%w: table %s.%s is a snapshot table and %s is before %s, the day before this extraction's "+
		"business day (%s in %s): %s holds the table as it was right after that day, which its KPIs join, "+
		"and a snapshot taken now would replace that history with today's state; to replace it anyway, "+
		"request it with \"force\": true (execution input {\"date\": %q, \"force\": true})",
		ErrBadRequest, e.cfg.Source.Name, t.Name, day, runDay.AddDays(-1),
		now.In(e.business).Format(time.RFC3339), e.business, day.Partition(), day.String())
}

// connect opens the source: the RowSource, or the database that the secret names.
func (e *Extractor) connect(ctx context.Context) (source, error) {
	if e.rows != nil {
		return e.rows(), nil
	}
	creds, err := fetchCredentials(ctx, e.secrets, e.cfg.SecretID, e.cfg.Source.Engine)
	if err != nil {
		return nil, err
	}
	database := e.cfg.Source.Database
	if database == "" {
		database = creds.DBName
	}
	if database == "" {
		return nil, &InputError{Err: errNoDatabase}
	}
	if e.cfg.RootCAs == nil && !isLoopback(creds.Host) {
		return nil, inputErrorf("%w: the database host %q is not a loopback address, so the connection needs TLS; give the CA bundle that signs its certificate",
			ErrBadRequest, creds.Host)
	}
	cctx, cancel := context.WithTimeout(ctx, e.connectTO)
	db, err := e.open(cctx, creds, database)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("connect to %s database %q at %s:%d as %q: %w",
			e.cfg.Source.Engine, database, creds.Host, creds.Port, creds.Username, err)
	}
	return db, nil
}

// isLoopback reports whether host names this machine: localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func tableNames(s SourceSpec) string {
	names := make([]string, len(s.Tables))
	for i, t := range s.Tables {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// transfer streams the plan's rows through a Parquet writer and an io.Pipe into one multipart
// upload. Memory holds one row group (compressed pages) and UploadConcurrency parts.
func (e *Extractor) transfer(ctx context.Context, db source, p *tablePlan, key string) (rows, size int64, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pr, pw := io.Pipe()
	produced := make(chan error, 1)
	go func() {
		n, err := e.writeParquet(ctx, db, p, pw)
		rows = n
		pw.CloseWithError(err) // nil: the reader sees EOF after the footer
		produced <- err
	}()
	up := &uploader{api: e.s3, bucket: e.cfg.Bucket, key: key, partSize: e.partSize, concurrency: e.cfg.UploadConcurrency}
	size, _, err = up.upload(ctx, pr, func(err error) {
		cancel(err)
		pr.CloseWithError(err)
	})
	if err != nil {
		cancel(err)
	}
	// The producer may still be reading rows or blocked writing to the pipe; this releases it.
	pr.CloseWithError(errors.New("upload ended"))
	prodErr := <-produced
	if err == nil && prodErr != nil {
		// Unreachable in practice: a producer error reaches the upload through the pipe.
		err = prodErr
	}
	// A producer error travelled through the pipe, so err is the root cause either way.
	return rows, size, err
}

// writeParquet runs the plan's query and writes the rows as Parquet to w.
func (e *Extractor) writeParquet(ctx context.Context, db source, p *tablePlan, w io.Writer) (int64, error) {
	pw := parquet.NewWriter(w, schemaOf(p.table.Name, p.cols),
		parquet.Compression(e.codec),
		// Version 1 data pages and PLAIN strings (parquet-go defaults to DELTA_LENGTH_BYTE_ARRAY):
		// the layout that every Parquet reader, Athena's included, has read longest.
		parquet.DataPageVersion(1),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.Plain),
		parquet.KeyValueMetadata("kpilake.source", e.cfg.Source.Name),
		parquet.KeyValueMetadata("kpilake.table", p.table.Name),
		parquet.KeyValueMetadata("kpilake.date", p.day.String()),
		parquet.KeyValueMetadata("kpilake.mode", string(p.table.mode())),
	)
	row := make(parquet.Row, len(p.cols))
	batch := []parquet.Row{row}
	var rows, groupRows int64
	var groupBytes int64
	err := db.stream(ctx, p.query, p.args, func(vals []any) error {
		for i := range p.cols {
			c := &p.cols[i]
			v := vals[i]
			if v == nil {
				row[i] = parquet.Value{}.Level(0, 0, i)
				continue
			}
			pv, err := c.conv(v)
			if err != nil {
				var u *unrepresentableError
				if errors.As(err, &u) {
					return &InputError{Err: fmt.Errorf("table %s, column %q, row %d: %w; %s", p.qualified, c.name, rows+1, err, u.fix(c.name))}
				}
				return fmt.Errorf("table %s, column %q, row %d: %w", p.qualified, c.name, rows+1, err)
			}
			if pv.IsNull() {
				row[i] = pv.Level(0, 0, i)
				continue
			}
			row[i] = pv.Level(0, 1, i)
			groupBytes += valueSize(pv)
		}
		if _, err := pw.WriteRows(batch); err != nil {
			return fmt.Errorf("write Parquet: %w", err)
		}
		rows++
		groupRows++
		if groupRows >= int64(e.cfg.RowGroupRows) || groupBytes >= e.cfg.RowGroupBytes {
			if err := pw.Flush(); err != nil {
				return fmt.Errorf("write Parquet row group: %w", err)
			}
			groupRows, groupBytes = 0, 0
		}
		return nil
	})
	if err != nil {
		return rows, fmt.Errorf("read table %s: %w", p.qualified, err)
	}
	if err := pw.Close(); err != nil {
		return rows, fmt.Errorf("write Parquet footer: %w", err)
	}
	return rows, nil
}

// valueSize approximates the bytes a value adds to the row group before compression.
func valueSize(v parquet.Value) int64 {
	switch v.Kind() {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return int64(len(v.ByteArray())) + 4
	}
	return 8
}

// initialLoad reports whether day is an incremental table's first: no earlier day of the table is
// in the raw zone (doc.go, "Modes"). Its partition then holds every row, so that the table's
// state (queries: {{ state }}) knows the rows that have not changed since before the lake began.
// Partitions sort by their dt= folder, so one key of the listing tells the table's first day.
func (e *Extractor) initialLoad(ctx context.Context, source, table string, day layout.Day) (bool, error) {
	prefix := layout.TablePrefix(source, table) + layout.PartitionKey + "="
	out, err := e.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(e.cfg.Bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)})
	if err != nil {
		return false, fmt.Errorf("list s3://%s/%s for the table's first day: %w", e.cfg.Bucket, prefix, err)
	}
	if len(out.Contents) == 0 {
		return true, nil
	}
	value, _, _ := strings.Cut(strings.TrimPrefix(aws.ToString(out.Contents[0].Key), prefix), "/")
	first, err := layout.ParseDay(value)
	if err != nil {
		return false, nil // not a partition: not evidence of an earlier day, nor of none
	}
	return !first.Before(day), nil
}
