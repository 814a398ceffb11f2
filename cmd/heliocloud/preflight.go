package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/heliocloud/heliocloud-go/checks"
	"github.com/heliocloud/heliocloud-go/config"
)

func init() {
	commands["preflight"] = command{"before a deploy: check the account's quotas, billing, e-mail, certificates and zones", runPreflight}
}

func runPreflight(args []string, stdout, stderr io.Writer) int {
	return runChecks("preflight", args, stdout, stderr, func(ctx context.Context, cfg *config.Config, env *checks.Env) ([]checks.Check, error) {
		return checks.Preflight(cfg, env), nil
	})
}

// runChecks is what preflight and doctor share: parse the arguments, load
// the instance and the admin's AWS configuration, run the checks the
// instance needs, print one line each, and exit 1 if any failed.
func runChecks(name string, args []string, stdout, stderr io.Writer, list func(context.Context, *config.Config, *checks.Env) ([]checks.Check, error)) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 30*time.Second, "how long each check may take")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: heliocloud %s [-timeout 30s] <instance-name-or-path>\n\nRuns with your AWS credentials (AWS_PROFILE, AWS_REGION) and prints one line per check; exits 1 if any failed.\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cfg, ok := loadConfig(fs.Arg(0), stderr)
	if !ok {
		return 1
	}
	ctx := context.Background()
	opts := []func(*awsconfig.LoadOptions) error{}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "heliocloud: your AWS configuration:", err)
		return 1
	}
	env := &checks.Env{AWS: awsCfg}
	// Listing may read the deployment (the doctor reads the stacks): it gets
	// the same limit as each check.
	listCtx, cancel := context.WithTimeout(ctx, *timeout)
	list0, err := list(listCtx, cfg, env)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "heliocloud %s: %v\n", name, err)
		return 1
	}
	if checks.Write(stdout, checks.Run(ctx, list0, *timeout)) {
		return 1
	}
	return 0
}
