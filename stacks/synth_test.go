package stacks

import (
	"encoding/json"
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
	_, templates := synthInstance(t, text, opts)
	return templates
}

// synthInstance is synthYAML that also returns the instance's stacks.
func synthInstance(t *testing.T, text string, opts Options) (*Instance, map[string]assertions.Template) {
	t.Helper()
	inst, app := buildInstance(t, text, opts)
	cfg := inst.Config
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
	return inst, templates
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

// resources returns the template's resources of one type by logical id.
func resources(tpl assertions.Template, typ string) map[string]map[string]any {
	all := (*tpl.ToJSON())["Resources"].(map[string]any)
	out := map[string]map[string]any{}
	for id, r := range all {
		if r := r.(map[string]any); r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func props(r map[string]any) map[string]any { return r["Properties"].(map[string]any) }

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// buildInstance builds an instance file given as text without
// synthesizing it, for tests that use the stacks' Go API (adding a stack of
// their own to the app, say).
func buildInstance(t *testing.T, text string, opts Options) (*Instance, awscdk.App) {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	// aws-cdk-lib's template validation is off here as in the app
	// (app.go): test/app_test.go's TestSynthHasNoWarnings runs it on every
	// instance file; here it would only add seconds to each synth.
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), BuiltinCloudFormationValidation: jsii.Bool(false)})
	return Build(app, cfg, opts), app
}

// templateJSON is a whole template as JSON text, for checks that nothing
// in it (an export, say) appears anywhere.
func templateJSON(t *testing.T, tpl assertions.Template) string {
	t.Helper()
	return toJSON(t, tpl.ToJSON())
}
