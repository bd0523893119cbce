package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/kpilake/kpilake/cmd/kpilake/internal/queue"
	"github.com/kpilake/kpilake/contract"
)

// barWidth is the width of the live bar, in characters.
const barWidth = 30

func (a *App) watchCommand(t *targetFlags) *cobra.Command {
	var (
		w     watchFlags
		total int
	)
	cmd := &cobra.Command{
		Use:   "watch --env ENV [--total N]",
		Short: "Show the backfill queue draining, until it is empty",
		Long: `watch polls the backfill queue's attributes and shows the jobs' progress until the queue has been
empty for --settle: a live bar on a terminal, one line per change otherwise (logs, pipes).

  done      = total - queued - in flight - failed
  queued    = messages waiting (ApproximateNumberOfMessages, plus delayed ones)
  in flight = messages being worked (ApproximateNumberOfMessagesNotVisible)
  failed    = messages in the dead-letter queue
  eta       = the jobs left at the rate the queue has drained since the watch began

A job is a business day. The worker hands what one invocation cannot finish on to the queue
(the day's KPIs not yet published), so a day may be two messages for a moment: a rise counts
as more jobs only once two polls show it, and done never goes back.

SQS's counts are approximate, and count every job on the queues whatever request sent it:
the dead-letter queue's messages count as failed, including those of earlier requests
(a 'backfill --yes --watch' counts only the ones that arrive after it sends).

` + exitCodesHelp,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if total < 0 {
				return usageError(fmt.Errorf("--total %d is negative", total))
			}
			env, err := a.environment(*t.config, t.env)
			if err != nil {
				return err
			}
			loc := a.locate(env, t.stack, t.region)
			queueURL, err := loc.resolve(cmd.Context(), contract.OutputBackfillQueueURL, t.queueURL, "--queue-url")
			if err != nil {
				return err
			}
			dlqURL, err := loc.resolve(cmd.Context(), contract.OutputBackfillDeadLetterQueueURL, t.dlqURL, "--dlq-url")
			if err != nil {
				return err
			}
			c, err := loc.aws(cmd.Context())
			if err != nil {
				return err
			}
			again := append([]string{"kpilake", "backfill", "watch"}, t.args(cmd)...)
			if total > 0 {
				again = append(again, "--total", strconv.Itoa(total))
			}
			return a.watch(cmd.Context(), c, queueURL, dlqURL, w, queue.Watch{Total: total}, t.env, again)
		},
	}
	cmd.Flags().IntVar(&total, "total", 0, "jobs expected, for the bar's length (default: the jobs on the queues at the start)")
	w.add(cmd)
	return cmd
}

// watch runs a watch to its end and turns its outcome into the command's: failed jobs are a
// failure, naming the redrive command.
func (a *App) watch(ctx context.Context, c *Clients, queueURL, dlqURL string, f watchFlags, opts queue.Watch, env string, again []string) error {
	var r queue.Renderer = queue.NewLines(a.Out, a.Now)
	if a.Terminal(a.Out) {
		r = queue.NewBar(a.Out, barWidth)
	}
	w := &queue.Watcher{SQS: c.SQS, QueueURL: queueURL, DLQURL: dlqURL, Interval: f.interval, Settle: f.settle, Now: a.Now, Sleep: a.Sleep}
	p, err := w.Watch(ctx, opts, r)
	if err != nil {
		if exitCode(ctx, err) == ExitInterrupted {
			fmt.Fprintf(a.Out, "\nStopped watching; the jobs keep running. Watch again with:\n  %s\n", command(again...))
			return err
		}
		return awsError(err)
	}
	if p.Failed > 0 {
		return failure(fmt.Errorf("%d of %d jobs failed: they are in the dead-letter queue %s. Find the cause in the worker's logs, fix it, then move them back with:\n  %s",
			p.Failed, p.Total, dlqURL, command("kpilake", "backfill", "redrive", "--env", env)))
	}
	if p.Total == 0 {
		fmt.Fprintln(a.Out, "The backfill queue and its dead-letter queue are empty: nothing to watch.")
		return nil
	}
	fmt.Fprintf(a.Out, "The queue is empty: %s done in %s.\n", plural(p.Done, "job", "jobs"), p.Elapsed.Round(time.Second))
	return nil
}

func (a *App) redriveCommand(t *targetFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "redrive --env ENV",
		Short: "Move failed jobs from the dead-letter queue back to the backfill queue",
		Long: `redrive moves the jobs in the backfill dead-letter queue back to the backfill queue, where the
worker runs them again; fix what made them fail first. It moves as many jobs as the dead-letter
queue held when it started (a job failing again meanwhile is not moved twice) and reports the
count. Jobs the worker had rejected as malformed are moved too, and reported: they will fail again.

` + exitCodesHelp,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			env, err := a.environment(*t.config, t.env)
			if err != nil {
				return err
			}
			loc := a.locate(env, t.stack, t.region)
			queueURL, err := loc.resolve(ctx, contract.OutputBackfillQueueURL, t.queueURL, "--queue-url")
			if err != nil {
				return err
			}
			dlqURL, err := loc.resolve(ctx, contract.OutputBackfillDeadLetterQueueURL, t.dlqURL, "--dlq-url")
			if err != nil {
				return err
			}
			c, err := loc.aws(ctx)
			if err != nil {
				return err
			}
			counts, err := queue.ReadCounts(ctx, c.SQS, queueURL, dlqURL)
			if err != nil {
				return awsError(err)
			}
			if counts.DeadLetters == 0 {
				fmt.Fprintln(a.Out, "The dead-letter queue is empty: nothing to redrive.")
				return nil
			}
			fmt.Fprintf(a.Out, "Moving %s from %s to %s\n", plural(counts.DeadLetters, "job", "jobs"), dlqURL, queueURL)
			rd := &queue.Redriver{SQS: c.SQS, From: dlqURL, To: queueURL, Retry: a.retry()}
			res, err := rd.Redrive(ctx, counts.DeadLetters, nil)
			fmt.Fprintf(a.Out, "Moved %s back to the backfill queue.\n", plural(res.Moved, "job", "jobs"))
			if res.Rejected > 0 {
				fmt.Fprintf(a.Out, "%d of them had been rejected by the worker as malformed (%s): they will fail again.\n", res.Rejected, res.Reason)
			}
			if err != nil {
				if exitCode(ctx, err) == ExitInterrupted {
					return err
				}
				return awsError(err)
			}
			watchCmd := append([]string{"kpilake", "backfill", "watch"}, t.args(cmd)...)
			fmt.Fprintf(a.Out, "Watch them with:\n  %s\n", command(watchCmd...))
			return nil
		},
	}
}
