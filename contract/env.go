package contract

// The environment variables through which the constructs (infra/) configure the Lambda functions
// (lambdas/), each named once: a construct sets it, the function reads it.
const (
	// EnvEnvironment names the environment (dev, prod) in every metric record (lambdas/metrics);
	// golambda sets it on every function built under an environment's name.
	EnvEnvironment = "KPILAKE_ENVIRONMENT"
	// EnvTimeZone carries the business time zone (IANA name).
	EnvTimeZone = "BUSINESS_TIME_ZONE"
	// EnvRawBucket names the raw zone's bucket, for every function that reads or writes it.
	EnvRawBucket = "KPILAKE_RAW_BUCKET"
	// EnvDatabase is the Glue database of the KPI tables, whose partitions say when each day of
	// a KPI was published.
	EnvDatabase = "KPILAKE_DATABASE"
)

// The plan function's.
const (
	// EnvCrawlers carries the crawlers as JSON, {"<crawler name>": ["social/"], ...}. The
	// aggregation workflow (infra/aggregate) sets it from the crawlers whose events start it, so
	// that the plan knows what each crawl brought up to date.
	EnvCrawlers = "KPILAKE_CRAWLER_PREFIXES"
	// EnvLookbackDays is how many days before the event's business day a crawl may make due
	// (aggregate.lookbackDays); older days are a backfill.
	EnvLookbackDays = "KPILAKE_LOOKBACK_DAYS"
	// EnvLogLateness is how long after a business day ends its log records may still land and
	// count in its daily figure (a Go duration: the offset of logCrawlTime from midnight). A KPI
	// that reads a log stream by event time is due for D only once D+1 has reached it.
	EnvLogLateness = "KPILAKE_LOG_LATENESS"
)

// The aggregate function's (and the backfill worker's, which runs the same handler).
const (
	EnvWorkgroup        = "KPILAKE_WORKGROUP"
	EnvAggregatedBucket = "KPILAKE_AGGREGATED_BUCKET"
	// EnvResultLocation and EnvResultKMSKey are the query results location (s3://bucket/prefix/)
	// and the ARN of the key that encrypts results, which the runner sends with every query.
	EnvResultLocation = "KPILAKE_RESULT_LOCATION"
	EnvResultKMSKey   = "KPILAKE_RESULT_KMS_KEY"
	// EnvSupersededGrace is ctas.Config.SupersededGrace as a Go duration ("6h"); unset means
	// the runner's default.
	EnvSupersededGrace = "KPILAKE_SUPERSEDED_GRACE"
	// EnvStateKeys carries the primary key of every incremental table that a state node reads,
	// as StateKeys.Env writes it: {"<source>.<table>": ["<column>", ...], ...}.
	EnvStateKeys = "KPILAKE_STATE_KEYS"
)

// The backfill worker's, besides the aggregate function's.
const (
	// EnvBackfillQueueURL is the backfill queue, whose messages the worker leases while it works
	// them.
	EnvBackfillQueueURL = "KPILAKE_BACKFILL_QUEUE_URL"
	// EnvBackfillDeadLetterQueueURL is where the worker sends a job no retry can fix (malformed,
	// a query Athena failed), so it is not retried.
	EnvBackfillDeadLetterQueueURL = "KPILAKE_BACKFILL_DLQ_URL"
	// EnvBackfillEarliestDay carries the environment's backfill.earliestDay (YYYY-MM-DD).
	EnvBackfillEarliestDay = "KPILAKE_BACKFILL_EARLIEST_DAY"
)

// The extraction function's.
const (
	// EnvSource holds the source's extract.SourceSpec as JSON.
	EnvSource = "KPILAKE_SOURCE"
	// EnvSecretARN is the Secrets Manager secret with the read-only user's credentials.
	EnvSecretARN = "KPILAKE_DB_SECRET_ARN"
	// EnvSaltSecretARN is the Secrets Manager secret whose SecretString is the hashing salt.
	EnvSaltSecretARN = "KPILAKE_HASH_SALT_SECRET_ARN"
)
