// Command app is the CDK app of a HelioCloud instance: `cdk synth|deploy
// --context instance=<name>` (or `--context config=<path>`) loads the
// instance file, validates it and builds the stacks of its components.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/stacks"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	if err := run(app); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	app.Synth(nil)
}

func run(app awscdk.App) error {
	path, how := instancePath(app)
	cfg, err := config.Load(path)
	var problems config.Problems
	if errors.As(err, &problems) {
		return fmt.Errorf("%s\nnothing was synthesized", problems)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "heliocloud: instance %q from %s (%s)\n", cfg.Name, path, how)
	for _, w := range cfg.Warnings {
		fmt.Fprintln(os.Stderr, w)
	}
	opts := stacks.Options{Account: cfg.Account, Region: cfg.Region}
	if opts.Account == "" {
		opts.Account = os.Getenv("CDK_DEFAULT_ACCOUNT")
	}
	if opts.Region == "" {
		opts.Region = os.Getenv("CDK_DEFAULT_REGION")
	}
	stacks.Build(app, cfg, opts)
	if nag := app.Node().TryGetContext(jsii.String("nag")); nag == nil || fmt.Sprint(nag) != "false" {
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	}
	return nil
}

// instancePath reads --context config=<path> or instance=<name>; with
// neither, the example instance, so that a bare `cdk synth` works.
func instancePath(app awscdk.App) (path, how string) {
	if p := contextString(app, "config"); p != "" {
		return p, "--context config"
	}
	if name := contextString(app, "instance"); name != "" {
		return config.Resolve(name), "--context instance"
	}
	return config.Resolve("example"), "no --context instance=<name> given, so the example instance"
}

func contextString(app awscdk.App, key string) string {
	v := app.Node().TryGetContext(jsii.String(key))
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
