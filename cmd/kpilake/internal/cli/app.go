// Package cli is the kpilake operator command line: cobra commands over the plan and queue
// packages. An App holds everything a run touches (its writers, its clock, how it reaches
// AWS), so tests run the real commands against fakes or a moto server.
package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kpilake/kpilake/cmd/kpilake/internal/plan"
	"github.com/kpilake/kpilake/cmd/kpilake/internal/queue"
	"github.com/kpilake/kpilake/infra/config"
	"github.com/kpilake/kpilake/layout"
	"github.com/kpilake/kpilake/local/lakedir"
	localrun "github.com/kpilake/kpilake/local/run"
	"github.com/kpilake/kpilake/queries"
	"github.com/kpilake/kpilake/sample"
)

// Exit codes, documented in the root command's help.
const (
	// ExitOK: the command did what it was asked (a plan without --yes sends nothing).
	ExitOK = 0
	// ExitFailure: the work failed, such as jobs that ended in the dead-letter queue.
	ExitFailure = 1
	// ExitUsage: a bad flag, date, range, KPI or configuration; nothing was sent.
	ExitUsage = 2
	// ExitAWS: an AWS call failed (credentials, permissions, the stack, a queue, the bucket).
	ExitAWS = 3
	// ExitInterrupted: stopped by Ctrl-C or SIGTERM; jobs already sent keep running.
	ExitInterrupted = 130
)

const exitCodesHelp = `Exit codes:
  0    success; a plan without --yes prints the plan and sends nothing
  1    failure: jobs ended in the dead-letter queue (watch), or the work failed
  2    usage: a bad flag, date, range, KPI or cdk.json configuration; nothing was sent
  3    AWS: a call failed (credentials, permissions, the stack and its outputs, a queue, S3)
  130  interrupted (Ctrl-C); jobs already sent keep running`

// exitError carries the exit code of an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(err error) error { return &exitError{ExitUsage, err} }
func awsError(err error) error   { return &exitError{ExitAWS, err} }
func failure(err error) error    { return &exitError{ExitFailure, err} }

// exitCode classifies err: its own code, an interruption, an AWS API error, or a failure.
func exitCode(ctx context.Context, err error) int {
	var ee *exitError
	var oe *smithy.OperationError
	switch {
	case err == nil:
		return ExitOK
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return ExitInterrupted
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &oe):
		return ExitAWS
	default:
		return ExitFailure
	}
}

// SQS is the queue API the commands call; *sqs.Client is one.
type SQS interface {
	queue.Mover
	queue.AttributesGetter
}

// StackDescriber reads a stack's outputs; *cloudformation.Client is one.
type StackDescriber interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var (
	_ SQS            = (*sqs.Client)(nil)
	_ StackDescriber = (*cloudformation.Client)(nil)
)

// Clients are the AWS APIs of one region.
type Clients struct {
	// Region is the region the clients call, for messages.
	Region         string
	CloudFormation StackDescriber
	SQS            SQS
	S3             plan.ObjectLister
}

// App is one run's surroundings. New fills in the real ones.
type App struct {
	// Out receives plans, progress and results; Err receives errors.
	Out, Err io.Writer
	// Terminal reports whether w is a terminal, where progress is a live bar.
	Terminal func(w io.Writer) bool
	// Now is the clock.
	Now func() time.Time
	// NewRequestID names a new backfill request.
	NewRequestID func(now time.Time) string
	// AWS builds the clients of a region ("" for the SDK's default region).
	AWS func(ctx context.Context, region string) (*Clients, error)
	// Catalog loads the KPI catalog.
	Catalog func() (*queries.Catalog, error)
	// Dir is where the search for cdk.json starts; "" is the working directory.
	Dir string
	// Retry bounds the resending of batch entries SQS failed.
	Retry queue.Retry
	// Sleep waits between polls.
	Sleep func(ctx context.Context, d time.Duration) error
	// LocalIngest builds what a local run extracts and delivers with.
	LocalIngest func(LocalIngestOptions) (localrun.Ingest, error)
}

// LocalIngestOptions say where a local run's source data comes from.
type LocalIngestOptions struct {
	// Lake is the local lake's S3.
	Lake *lakedir.Lake
	// Env is the environment whose sources and log streams are run.
	Env *config.Environment
	// DSN, when set, is the database to extract from instead of the embedded sample.
	DSN string
	// From and To are the business days of the run.
	From, To layout.Day
	// Sample sizes the embedded sample.
	Sample sample.Config
}

// New returns an App on the real world: the process's terminal, clock and AWS credentials.
func New(out, errw io.Writer) *App {
	return &App{
		Out:          out,
		Err:          errw,
		Terminal:     isTerminal,
		Now:          time.Now,
		NewRequestID: newRequestID,
		AWS:          awsClients,
		Catalog:      queries.Load,
		Sleep:        queue.Sleep,
		LocalIngest:  localIngest,
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newRequestID is "bf-<UTC time>-<random>": sortable, and unique across operators.
func newRequestID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "bf-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func awsClients(ctx context.Context, region string) (*Clients, error) {
	// A watch polls for hours: ride out throttling and blips longer than the SDK's default 3 attempts.
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRetryMaxAttempts(8)}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, awsError(fmt.Errorf("load AWS configuration: %w", err))
	}
	if cfg.Region == "" {
		return nil, usageError(errors.New("no AWS region: give --region, set region in cdk.json's environment, or set AWS_REGION"))
	}
	return &Clients{
		Region:         cfg.Region,
		CloudFormation: cloudformation.NewFromConfig(cfg),
		SQS:            sqs.NewFromConfig(cfg),
		S3:             s3.NewFromConfig(cfg),
	}, nil
}

// Run runs the command line args (without the program name) and returns the exit code.
func (a *App) Run(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(ctx, err)
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) && len(joined.Unwrap()) > 1 {
		fmt.Fprintf(a.Err, "kpilake: %d problems:\n", len(joined.Unwrap()))
		for _, e := range joined.Unwrap() {
			fmt.Fprintf(a.Err, "  - %v\n", e)
		}
	} else {
		fmt.Fprintf(a.Err, "kpilake: %v\n", err)
	}
	switch code {
	case ExitUsage:
		fmt.Fprintf(a.Err, "Run '%s --help' for usage.\n", cmd.CommandPath())
	case ExitInterrupted:
		fmt.Fprintln(a.Err, "kpilake: interrupted")
	}
	return code
}

func (a *App) rootCommand() *cobra.Command {
	var configPath string
	root := &cobra.Command{
		Use:   "kpilake",
		Short: "Operate a kpilake environment, run the pipeline locally, write KPIs",
		Long: `kpilake operates a deployed kpilake environment (stack KpiLake-<env>), and runs the pipeline
and the KPIs on this machine without AWS (kpilake local run, kpilake kpi render|run|test).

It reads the environment's settings (region, backfill.maxDays, time zone) from cdk.json, found in
the working directory or a parent (or --config), and the deployed stack's outputs (queue URLs,
bucket names) through CloudFormation, with the usual AWS credentials (AWS_PROFILE, SSO, ...).

` + exitCodesHelp,
		Args:          usageArgs(cobra.NoArgs),
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	root.SetOut(a.Out)
	root.SetErr(a.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.PersistentFlags().StringVar(&configPath, "config", "", "the project's cdk.json (default: cdk.json in the working directory or a parent)")
	root.AddCommand(a.backfillCommand(&configPath))
	root.AddCommand(a.localCommand(&configPath))
	root.AddCommand(a.kpiCommand(&configPath))
	return root
}

// usageArgs makes an argument check's error a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError(err)
		}
		return nil
	}
}

// shellQuote quotes s for a POSIX shell when it needs it, so printed commands can be pasted.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// command renders a command line to print.
func command(args ...string) string {
	q := make([]string, len(args))
	for i, s := range args {
		q[i] = shellQuote(s)
	}
	return strings.Join(q, " ")
}
