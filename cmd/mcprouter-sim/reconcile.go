package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/mcp-bridge/otelcol-mcp/internal/reconcile"
)

// parseReconcileFlags reads the flags of the reconcile command.
func parseReconcileFlags(args []string, stderr io.Writer) (reconcile.Options, error) {
	var o reconcile.Options
	fs := flag.NewFlagSet("mcprouter-sim reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Manifest, "manifest", "", "manifest written by mcprouter-sim run (required)")
	fs.StringVar(&o.DSN, "dsn", "postgres://postgres@127.0.0.1:5432/mcp_bridge?sslmode=disable", "PostgreSQL connection string")
	fs.StringVar(&o.Schema, "schema", "mcp", "schema of the tables")
	sampled := fs.String("sampled", reconcile.DefaultSampled, "kinds whose healthy items may be sampled (comma-separated)")
	rates := fs.String("rates", reconcile.DefaultRates, "percent kept of each sampled kind, assumed when the stored rows carry no adjusted_count to tell")
	fs.Float64Var(&o.Sigmas, "sigmas", 5, "width of the accepted band of a sample, in binomial standard deviations")
	fs.Float64Var(&o.SumTolerance, "sum-tolerance", 0.05, "accepted relative error of SUM(adjusted_count), checked when the sample is large enough")
	fs.DurationVar(&o.Wait, "wait", 0, "poll until nothing is missing, the stored counts stop changing for -settle, or this much time passed; 0 = check once")
	fs.DurationVar(&o.Settle, "settle", 10*time.Second, "with -wait: give up waiting when the stored counts did not change for this long")
	fs.DurationVar(&o.Poll, "poll", time.Second, "with -wait: check this often")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %v", fs.Args()))
	}
	var err error
	if o.Sampled, err = reconcile.ParseKindSet(*sampled); err != nil {
		errs = append(errs, fmt.Errorf("sampled: %w", err))
	}
	if o.Rates, err = reconcile.ParseRates(*rates); err != nil {
		errs = append(errs, fmt.Errorf("rates: %w", err))
	}
	errs = append(errs, o.Validate())
	return o, errors.Join(errs...)
}

// reconcileCommand prints the report; exit status 0 all good, 1 lost,
// duplicated or out of bounds, 2 it could not run.
func reconcileCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseReconcileFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim reconcile:", err)
		return 2
	}
	rep, err := reconcile.Run(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mcprouter-sim reconcile:", err)
		return 2
	}
	rep.Print(stdout)
	if !rep.OK() {
		return 1
	}
	return 0
}
