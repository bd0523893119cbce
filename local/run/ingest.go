package run

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/embedded"
	"github.com/kpilake/kpilake/local/ingest"
	"github.com/kpilake/kpilake/local/lakedir"
	"github.com/kpilake/kpilake/sample"
)

// LakeIngest is the Ingest of a local run over local/ingest: the real extractor into lake, from
// the embedded sample ds or, with a DSN, from that database; the sample's access logs.
type LakeIngest struct {
	// lake writes the raw zone at the simulated instant of each step, so that the objects'
	// LastModified is when they would land on AWS (the plan compares it with KPI runs' starts).
	lake *lakedir.Lake
	mu   sync.Mutex
	at   time.Time
	env  *config.Environment
	ds   *sample.Dataset
	dsn  string
	salt []byte
	log  *slog.Logger
}

// NewIngest returns the Ingest of env's sources into the lake directory root: each from the
// database at dsn, or, without one, the sample source (embedded.SourceName) replayed from ds. log
// receives the extractor's records.
func NewIngest(root string, env *config.Environment, ds *sample.Dataset, dsn string, log *slog.Logger) (*LakeIngest, error) {
	if dsn == "" {
		for _, src := range env.Sources {
			if src.Name != embedded.SourceName {
				return nil, fmt.Errorf("environment %s extracts source %q, which the embedded sample does not hold (it holds %q); give --dsn to extract it from a database",
					env.Name, src.Name, embedded.SourceName)
			}
		}
	} else if len(env.Sources) != 1 {
		return nil, fmt.Errorf("--dsn is one database, and environment %s has %d sources; a local run extracts one source from a DSN", env.Name, len(env.Sources))
	}
	i := &LakeIngest{env: env, ds: ds, dsn: dsn, log: log}
	lake, err := lakedir.Open(root, lakedir.WithClock(func() time.Time { return i.at }))
	if err != nil {
		return nil, err
	}
	i.lake = lake
	if i.salt, err = ingest.Salt(lake.Root()); err != nil {
		return nil, err
	}
	if i.log == nil {
		i.log = slog.New(slog.DiscardHandler)
	}
	return i, nil
}

// Extract implements Ingest.
func (i *LakeIngest) Extract(ctx context.Context, src config.Source, day layout.Day, at time.Time) (Extracted, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.at = at
	spec, err := ingest.SpecFromEnvironment(i.env, src.Name)
	if err != nil {
		return Extracted{}, err
	}
	var source ingest.Source
	if i.dsn != "" {
		if source, err = ingest.Database(i.dsn, spec); err != nil {
			return Extracted{}, err
		}
	} else {
		source = ingest.Sample(i.ds)
		source.Spec = spec // the environment's tables, exclusions and hashes
	}
	results, err := ingest.Extract(ctx, i.lake, source, day, at, ingest.Options{Salt: i.salt, Logger: i.log})
	var out Extracted
	for _, r := range results {
		out.Tables = append(out.Tables, TableExtract{Table: r.Table, Rows: r.Rows, Bytes: r.Bytes})
	}
	return out, err
}

// firehoseBuffer is the log streams' buffering interval (infra/ingest.DefaultBufferInterval).
const firehoseBuffer = 5 * time.Minute

// DeliverLogs implements Ingest: the sample's access logs, by arrival (a DSN brings no logs).
func (i *LakeIngest) DeliverLogs(ctx context.Context, stream string, after, until time.Time) (int, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.ds == nil {
		return 0, nil
	}
	objects, err := ingest.AccessLogDeliveries(i.ds, stream, firehoseBuffer, after, until)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range objects {
		i.at = o.Flushed
		if _, err := i.lake.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(ingest.RawBucket), Key: aws.String(o.Key),
			Body: bytes.NewReader(o.Body), ContentType: aws.String("application/json"), ContentEncoding: aws.String("gzip")}); err != nil {
			return n, fmt.Errorf("deliver %s: %w", o.Key, err)
		}
		n += o.Records
	}
	return n, nil
}
