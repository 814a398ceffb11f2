package stacks

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/heliocloud/heliocloud-go/config"
)

// synthYAML validates an instance file given as text and synthesizes it
// with cdk-nag's AwsSolutions checks, as `cdk synth` does. It fails the
// test on any configuration problem or unsuppressed cdk-nag error, and
// returns each stack's template keyed by component ("base", "auth", ...).
func synthYAML(t *testing.T, text string, opts Options) map[string]assertions.Template {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	Build(app, cfg, opts)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
	templates := map[string]assertions.Template{}
	for _, child := range *app.Node().Children() {
		if !*awscdk.Stack_IsStack(child) {
			continue
		}
		stack := child.(awscdk.Stack)
		component := strings.ToLower(strings.TrimPrefix(*stack.StackName(), cfg.Name+"-"))
		if errs := nagErrors(stack); len(errs) > 0 {
			t.Fatalf("cdk-nag errors in %s:\n%s", *stack.StackName(), strings.Join(errs, "\n"))
		}
		templates[component] = assertions.Template_FromStack(stack, nil)
	}
	return templates
}

// nagErrors lists the error annotations of a stack (cdk-nag reports its
// unsuppressed findings as errors).
func nagErrors(stack awscdk.Stack) []string {
	var out []string
	found := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_AnyValue())
	for _, m := range *found {
		out = append(out, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
	}
	return out
}

// mustFailConfig is for tests that expect the configuration to be refused.
func mustFailConfig(t *testing.T, text string) config.Problems {
	t.Helper()
	_, err := config.Parse("test.yaml", []byte(text))
	var problems config.Problems
	if !errors.As(err, &problems) {
		t.Fatalf("expected configuration problems, got %v", err)
	}
	return problems
}

// The cdk-nag check of synthYAML must be able to fail: a bucket with no
// access logs and no TLS policy is an AwsSolutions error.
func TestNagErrorsAreReported(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	stack := awscdk.NewStack(app, jsii.String("nag-probe"), nil)
	awss3.NewBucket(stack, jsii.String("Plain"), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
	errs := nagErrors(stack)
	if !strings.Contains(strings.Join(errs, "\n"), "AwsSolutions-S1") {
		t.Fatalf("expected AwsSolutions-S1 among the errors, got %q", errs)
	}
}

// Every component the configuration knows has a stack builder, so enabling
// any of them can never reach Build's "no stack builder" panic.
func TestEveryComponentHasABuilder(t *testing.T) {
	for _, comp := range config.Components {
		if _, ok := builders[comp.Name]; !ok {
			t.Errorf("component %q has no builder in package stacks", comp.Name)
		}
	}
}
