// Command plan is the Lambda that turns a workflow trigger into the business days to aggregate and
// the KPI waves of each day.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	_ "time/tzdata" // provided.al2023 ships no zoneinfo

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/lambdas/plan"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := newHandler(context.Background(), log, os.LookupEnv)
	if err != nil {
		log.Error("plan: start-up failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// newHandler reads the configuration once, as the Lambda starts (plan.Setup), with S3 and Glue
// clients for the lake.
func newHandler(ctx context.Context, log *slog.Logger, env func(string) (string, bool)) (*plan.Handler, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	// The clients are not instrumented (lambdas/tracing): a plan makes a few listing calls, and
	// the X-Ray SDK would make the function's bundle three times its size. Lambda's active
	// tracing still records the invocation.
	environment, _ := env(contract.EnvEnvironment)
	return plan.Setup(log, env, s3.NewFromConfig(cfg), glue.NewFromConfig(cfg), metrics.New(os.Stdout, environment))
}
