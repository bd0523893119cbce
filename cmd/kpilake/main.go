// Command kpilake operates a deployed kpilake environment (backfills: plan, enqueue, watch,
// redrive), runs the pipeline on this machine (local run) and helps write KPIs (kpi render, run,
// test). Run `kpilake --help`; exit codes are listed there.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kpilake/kpilake/cmd/kpilake/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.New(os.Stdout, os.Stderr).Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
