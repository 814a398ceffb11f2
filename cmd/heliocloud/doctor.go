package main

import (
	"context"
	"io"

	"github.com/heliocloud/heliocloud-go/checks"
	"github.com/heliocloud/heliocloud-go/config"
)

func init() {
	commands["doctor"] = command{"after a deploy: check each enabled component end to end", runDoctor}
}

func runDoctor(args []string, stdout, stderr io.Writer) int {
	return runChecks("doctor", args, stdout, stderr, func(ctx context.Context, cfg *config.Config, env *checks.Env) ([]checks.Check, error) {
		return checks.Doctor(ctx, cfg, env), nil
	})
}
