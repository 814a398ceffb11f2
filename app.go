// Command app is the CDK app of a HelioCloud instance: `cdk synth|deploy
// --context instance=<name>` (or `--context config=<path>`) loads the
// instance file, validates it and builds the stacks of its components.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/stacks"
)

func main() {
	defer jsii.Close()
	defer reportPanic()
	// Stack traces in annotations and construct metadata hold the path of a
	// temporary folder, which would differ between two synths of one file.
	app := awscdk.NewApp(&awscdk.AppProps{
		StackTraces:                     jsii.Bool(false),
		Context:                         &map[string]any{"aws:cdk:disable-creation-stack-traces": true},
		BuiltinCloudFormationValidation: jsii.Bool(templateValidation()),
	})
	if err := run(app); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	assembly := app.Synth(nil)
	// cdk-nag reports unsuppressed findings as error annotations; refuse the
	// synth so that nothing insecure reaches a deploy unnoticed.
	failed := 0
	for _, stack := range *assembly.StacksRecursively() {
		for _, m := range *stack.Messages() {
			if m.Level == cxapi.SynthesisMessageLevel_ERROR {
				fmt.Fprintf(os.Stderr, "error: %s: %v\n", *m.Id, m.Entry.Data)
				failed++
			}
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "%d error(s) in the synthesized stacks (cdk-nag findings must be fixed or suppressed with a reason)\n", failed)
		os.Exit(1)
	}
}

// templateValidation says whether aws-cdk-lib checks the synthesized
// templates against its CloudFormation rules: only when asked, with
// --context validate=true (or CDK_VALIDATION=true). The check took 5.1 s of
// a 13.6 s gsfc synth (docs/performance.md); the templates come from tested
// code, and TestSynthHasNoWarnings runs it on every instance file, refusing
// any finding not in its allow-list. The App takes the choice when it is
// made, before its context can be read, so it is read here from the
// CDK CLI's CDK_CONTEXT_JSON.
func templateValidation() bool {
	if os.Getenv("CDK_VALIDATION") == "true" {
		return true
	}
	var context map[string]any
	if err := json.Unmarshal([]byte(os.Getenv("CDK_CONTEXT_JSON")), &context); err != nil {
		return false
	}
	return fmt.Sprint(context["validate"]) == "true"
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

// reportPanic turns a failure deep in synthesis (a Lambda that does not
// build, a missing `npm ci`) into one line instead of a Go stack trace;
// HELIOCLOUD_DEBUG=1 keeps the trace for developers.
func reportPanic() {
	r := recover()
	if r == nil {
		return
	}
	if os.Getenv("HELIOCLOUD_DEBUG") == "1" {
		panic(r)
	}
	fmt.Fprintf(os.Stderr, "heliocloud: synthesis failed: %v\n(set HELIOCLOUD_DEBUG=1 for the stack trace)\n", r)
	os.Exit(1)
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
