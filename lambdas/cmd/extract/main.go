// Command extract is the Lambda that exports one table of one source database for one business
// day into the raw zone as Parquet (see package extract).
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	_ "time/tzdata" // provided.al2023 ships no zoneinfo

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kpilake/kpilake/contract"
	"github.com/kpilake/kpilake/lambdas/extract"
	"github.com/kpilake/kpilake/lambdas/metrics"
	"github.com/kpilake/kpilake/lambdas/rdsca"
	"github.com/kpilake/kpilake/lambdas/tracing"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(log); err != nil {
		log.Error("extract: start-up failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx := context.Background()
	spec, err := extract.ParseSourceSpec([]byte(os.Getenv(contract.EnvSource)))
	if err != nil {
		return err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRetryMaxAttempts(5))
	if err != nil {
		return err
	}
	tracing.InstrumentAWS(&awsCfg)
	secrets := secretsmanager.NewFromConfig(awsCfg)
	var salt []byte
	if id := os.Getenv(contract.EnvSaltSecretARN); id != "" {
		if salt, err = extract.FetchSalt(ctx, secrets, id); err != nil {
			return err
		}
	}
	x, err := extract.New(extract.Config{
		Source:   spec,
		Bucket:   os.Getenv(contract.EnvRawBucket),
		SecretID: os.Getenv(contract.EnvSecretARN),
		RootCAs:  rdsca.Pool(),
		Salt:     salt,
		Logger:   log,
		Metrics:  metrics.FromEnv(),
		Tracer:   tracing.Backend{},
	}, secrets, s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.RetryMaxAttempts = 5 }))
	if err != nil {
		return err
	}
	lambda.Start(func(ctx context.Context, req extract.Request) (extract.Result, error) {
		res, err := x.Handle(ctx, req)
		// Lambda names the error by its Go type; the workflow must see "InputError" to fail at
		// once instead of retrying, however deep the handler wrapped it.
		var input *extract.InputError
		if errors.As(err, &input) {
			return res, input
		}
		return res, err
	})
	return nil
}
