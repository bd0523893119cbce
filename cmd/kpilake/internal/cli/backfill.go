package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kpilake/kpilake/cmd/kpilake/internal/plan"
	"github.com/kpilake/kpilake/cmd/kpilake/internal/queue"
	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/backfill"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/queries"
)

// targetFlags locate an environment's queues; every backfill command takes them.
type targetFlags struct {
	config   *string
	env      string
	stack    string
	region   string
	queueURL string
	dlqURL   string
}

// args renders the flags the operator gave, for a command to paste.
func (t *targetFlags) args(cmd *cobra.Command) []string {
	out := []string{"--env", t.env}
	for _, f := range []struct{ name, value string }{
		{"config", *t.config}, {"stack", t.stack}, {"region", t.region}, {"queue-url", t.queueURL}, {"dlq-url", t.dlqURL},
	} {
		if fl := cmd.Flags().Lookup(f.name); fl != nil && fl.Changed {
			out = append(out, "--"+f.name, f.value)
		}
	}
	return out
}

// watchFlags pace a watch.
type watchFlags struct {
	interval time.Duration
	settle   time.Duration
}

func (w *watchFlags) add(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&w.interval, "interval", 10*time.Second, "time between polls of the queue attributes")
	cmd.Flags().DurationVar(&w.settle, "settle", 30*time.Second, "how long the queue must stay empty before the watch ends (SQS counts lag)")
}

type backfillFlags struct {
	targetFlags
	watchFlags
	from, to   string
	kpis       []string
	yes        bool
	watch      bool
	requestID  string
	pricePerTB float64
	rawBucket  string
	noEstimate bool
	limits     limits
}

func (a *App) backfillCommand(configPath *string) *cobra.Command {
	f := &backfillFlags{targetFlags: targetFlags{config: configPath}}
	cmd := &cobra.Command{
		Use:   "backfill --env ENV --from YYYY-MM-DD --to YYYY-MM-DD [--kpi NAME,...] [--yes [--watch]]",
		Short: "Re-aggregate KPIs over past days: plan, enqueue one job per day, watch",
		Long: `backfill re-aggregates KPIs over a range of past business days. It first prints a plan: the days,
the jobs (one queue message per day), the KPIs in dependency waves (a KPI's dependents are
rebuilt with it) and an estimate of the data Athena will scan and its cost, from the sizes of
the raw partitions each query reads. Without --yes it stops there and sends nothing.

With --yes it sends the jobs to the environment's backfill queue, in batches of 10, under one
request id (printed; every job carries it). Sending the same request again (--request-id) is
safe: a day's aggregation replaces that day's partition. With --watch it then shows the queue
draining until every job is done or failed; failed jobs land in the dead-letter queue, from
which 'kpilake backfill redrive' moves them back once the cause is fixed.

The queues and the raw bucket come from the stack's outputs (BackfillQueueUrl,
BackfillDeadLetterQueueUrl, RawBucketName) unless given as flags.

` + exitCodesHelp,
		Example: `  # what would rebuilding November cost?
  kpilake backfill --env prod --from 2026-11-01 --to 2026-11-30 --kpi active_users_by_department
  # do it, and watch
  kpilake backfill --env prod --from 2026-11-01 --to 2026-11-30 --kpi active_users_by_department --yes --watch
  # later, or from another terminal
  kpilake backfill watch --env prod
  # after fixing what made jobs fail
  kpilake backfill redrive --env prod`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runBackfill(cmd.Context(), cmd, f)
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.env, "env", "", "environment, a key of kpilake.environments in cdk.json (required)")
	pf.StringVar(&f.stack, "stack", "", "stack name (default: KpiLake-<env>)")
	pf.StringVar(&f.region, "region", "", "AWS region (default: the environment's region in cdk.json, else the SDK's)")
	pf.StringVar(&f.queueURL, "queue-url", "", "backfill queue URL (default: the stack output BackfillQueueUrl)")
	pf.StringVar(&f.dlqURL, "dlq-url", "", "dead-letter queue URL (default: the stack output BackfillDeadLetterQueueUrl)")
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "first day to re-aggregate, YYYY-MM-DD (required)")
	fl.StringVar(&f.to, "to", "", "last day to re-aggregate, YYYY-MM-DD, included (required)")
	fl.StringSliceVar(&f.kpis, "kpi", nil, "KPIs to rebuild, comma-separated; their dependents are rebuilt too (default: all)")
	fl.BoolVar(&f.yes, "yes", false, "send the jobs (without it, only the plan is printed)")
	fl.BoolVar(&f.watch, "watch", false, "with --yes: watch the jobs until the queue drains")
	fl.StringVar(&f.requestID, "request-id", "", "request id of the jobs, to resend a request (default: a new one)")
	fl.Float64Var(&f.pricePerTB, "price-per-tb", plan.DefaultPricePTB, "Athena price in USD per TB scanned, for the cost estimate")
	fl.StringVar(&f.rawBucket, "raw-bucket", "", "raw zone bucket, for the estimate (default: the stack output RawBucketName)")
	fl.BoolVar(&f.noEstimate, "no-estimate", false, "skip the scan estimate (no S3 listing)")
	f.limits.add(fl)
	f.watchFlags.add(cmd)

	_ = cmd.RegisterFlagCompletionFunc("env", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return environmentNames(*configPath, a.Dir), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("kpi", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		cat, err := a.Catalog()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return cat.Names(), cobra.ShellCompDirectiveNoFileComp
	})
	cmd.AddCommand(a.watchCommand(&f.targetFlags), a.redriveCommand(&f.targetFlags))
	return cmd
}

func (a *App) runBackfill(ctx context.Context, cmd *cobra.Command, f *backfillFlags) error {
	if err := f.validate(cmd); err != nil {
		return usageError(err)
	}
	env, err := a.limitedEnvironment(*f.config, f.env, f.limits)
	if err != nil {
		return err
	}
	cat, err := a.Catalog()
	if err != nil {
		return failure(fmt.Errorf("load the KPI catalog: %w", err))
	}
	p, err := plan.New(cat, plan.Request{
		Env: env.Name, From: f.from, To: f.to, KPIs: f.kpis, MaxDays: env.MaxDays,
		Today: layout.DayOf(a.Now(), env.Location), TimeZone: env.Location.String(),
	})
	if err != nil {
		return usageError(err)
	}
	requestID := f.requestID
	if requestID == "" && f.yes {
		requestID = a.NewRequestID(a.Now())
	}
	var jobs []backfill.Job
	if requestID != "" {
		jobs = p.Jobs(requestID)
		if err := checkJobs(jobs, cat); err != nil {
			return err
		}
	}
	loc := a.locate(env, f.stack, f.region)
	if err := a.estimate(ctx, loc, f, cat, p); err != nil {
		return err
	}
	if err := plan.Render(a.Out, p, plan.Target{Stack: loc.stack, Region: loc.region, RequestID: requestID, PricePerTB: f.pricePerTB}); err != nil {
		return failure(err)
	}
	if !f.yes {
		fmt.Fprintf(a.Out, "\nNothing sent. To send the %s, run:\n  %s\n",
			plural(len(p.Days()), "job", "jobs"), command(append(f.again(cmd, p), "--yes")...))
		return nil
	}
	return a.sendAndWatch(ctx, cmd, f, loc, p, requestID, jobs)
}

// validate checks the flags of a backfill, every problem at once.
func (f *backfillFlags) validate(cmd *cobra.Command) error {
	var errs []error
	for _, req := range []struct {
		missing bool
		msg     string
	}{
		{f.env == "", "--env is required: the environment to backfill, such as dev or prod"},
		{f.from == "", "--from is required: the first day to re-aggregate, YYYY-MM-DD"},
		{f.to == "", "--to is required: the last day to re-aggregate, YYYY-MM-DD"},
		{cmd.Flags().Changed("kpi") && len(f.kpis) == 0, "--kpi is empty; leave it out to rebuild every KPI"},
		{f.watch && !f.yes, "--watch watches the jobs this run sends: add --yes, or run `kpilake backfill watch`"},
	} {
		if req.missing {
			errs = append(errs, errors.New(req.msg))
		}
	}
	if f.pricePerTB < 0 {
		errs = append(errs, fmt.Errorf("--price-per-tb %g is negative", f.pricePerTB))
	}
	return errors.Join(errs...)
}

// estimate sets the plan's scan estimate from the raw partitions' sizes, unless --no-estimate.
func (a *App) estimate(ctx context.Context, loc *locator, f *backfillFlags, cat *queries.Catalog, p *plan.Plan) error {
	if f.noEstimate {
		return nil
	}
	bucket, err := loc.resolve(ctx, contract.OutputRawBucketName, f.rawBucket, "--raw-bucket (or --no-estimate)")
	if err != nil {
		return err
	}
	c, err := loc.aws(ctx)
	if err != nil {
		return err
	}
	est, err := (&plan.Estimator{S3: c.S3, Bucket: bucket}).Estimate(ctx, cat, p)
	if err != nil {
		return awsError(err)
	}
	p.Estimate = est
	return nil
}

// again is the command that repeats this plan, with the flags the operator gave.
func (f *backfillFlags) again(cmd *cobra.Command, p *plan.Plan) []string {
	again := append([]string{"kpilake", "backfill"}, f.targetFlags.args(cmd)...)
	again = append(again, "--from", f.from, "--to", f.to)
	if len(p.KPIs) > 0 {
		again = append(again, "--kpi", strings.Join(p.KPIs, ","))
	}
	if f.requestID != "" {
		again = append(again, "--request-id", f.requestID)
	}
	for _, name := range []string{"raw-bucket", "price-per-tb", "no-estimate"} {
		switch fl := cmd.Flags().Lookup(name); {
		case !fl.Changed:
		case fl.Value.String() == "true":
			again = append(again, "--"+name)
		case fl.Value.Type() == "bool":
			again = append(again, "--"+name+"=false")
		default:
			again = append(again, "--"+name, fl.Value.String())
		}
	}
	return again
}

// sendAndWatch sends the jobs to the backfill queue and, with --watch, watches them drain.
func (a *App) sendAndWatch(ctx context.Context, cmd *cobra.Command, f *backfillFlags, loc *locator, p *plan.Plan, requestID string, jobs []backfill.Job) error {
	queueURL, err := loc.resolve(ctx, contract.OutputBackfillQueueURL, f.queueURL, "--queue-url")
	if err != nil {
		return err
	}
	c, err := loc.aws(ctx)
	if err != nil {
		return err
	}
	var before queue.Counts
	var dlqURL string
	if f.watch {
		if dlqURL, err = loc.resolve(ctx, contract.OutputBackfillDeadLetterQueueURL, f.dlqURL, "--dlq-url"); err != nil {
			return err
		}
		if before, err = queue.ReadCounts(ctx, c.SQS, queueURL, dlqURL); err != nil {
			return awsError(err)
		}
	}
	fmt.Fprintf(a.Out, "\nSending %s of request %s to %s\n", plural(len(jobs), "job", "jobs"), requestID, queueURL)
	sent, err := (&queue.Enqueuer{SQS: c.SQS, QueueURL: queueURL, Retry: a.retry()}).Send(ctx, jobs)
	if err != nil {
		return a.sendFailed(ctx, cmd, f, p, requestID, err)
	}
	fmt.Fprintf(a.Out, "Sent %s.\n", plural(sent, "job", "jobs"))
	watchCmd := append([]string{"kpilake", "backfill", "watch"}, f.targetFlags.args(cmd)...)
	if !f.watch {
		fmt.Fprintf(a.Out, "Watch them with:\n  %s\n", command(watchCmd...))
		return nil
	}
	if before.Pending() > 0 {
		fmt.Fprintf(a.Out, "The queue already held %s; the progress counts them too.\n", plural(before.Pending(), "job", "jobs"))
	}
	if before.DeadLetters > 0 {
		fmt.Fprintf(a.Out, "The dead-letter queue already held %s from earlier requests; they are not counted as failed.\n",
			plural(before.DeadLetters, "job", "jobs"))
	}
	total := before.Pending() + sent
	watchCmd = append(watchCmd, "--total", strconv.Itoa(total))
	return a.watch(ctx, c, queueURL, dlqURL, f.watchFlags, queue.Watch{Total: total, DeadLetterBaseline: before.DeadLetters}, f.env, watchCmd)
}

// sendFailed tells how to send the rest of a request that failed part way, and returns its error.
func (a *App) sendFailed(ctx context.Context, cmd *cobra.Command, f *backfillFlags, p *plan.Plan, requestID string, err error) error {
	var se *queue.SendError
	if errors.As(err, &se) {
		resume := append([]string{"kpilake", "backfill"}, f.targetFlags.args(cmd)...)
		resume = append(resume, "--from", se.FirstUnsent, "--to", f.to)
		if len(p.KPIs) > 0 {
			resume = append(resume, "--kpi", strings.Join(p.KPIs, ","))
		}
		resume = append(resume, "--request-id", requestID, "--no-estimate", "--yes")
		fmt.Fprintf(a.Err, "Sent %s before the error. To send the rest of the request (from %s on; a job sent twice is harmless), run:\n  %s\n",
			plural(se.Sent, "job", "jobs"), se.FirstUnsent, command(resume...))
	}
	if exitCode(ctx, err) == ExitInterrupted {
		return err
	}
	return awsError(err)
}

// checkJobs runs every job through the worker's own parser, so that nothing is sent that the
// worker would reject (such as a --request-id with characters it does not take).
func checkJobs(jobs []backfill.Job, cat *queries.Catalog) error {
	for _, j := range jobs {
		body, err := j.Body()
		if err != nil {
			return failure(err)
		}
		if _, _, _, err := backfill.ParseJob([]byte(body), cat); err != nil {
			var me *backfill.MalformedError
			if errors.As(err, &me) {
				err = me.Err
			}
			return usageError(fmt.Errorf("--request-id: %w", err))
		}
	}
	return nil
}

func (a *App) retry() queue.Retry {
	r := a.Retry
	if r.Sleep == nil {
		r.Sleep = a.Sleep
	}
	return r
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
