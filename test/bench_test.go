package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/heliocloud/heliocloud-go/config"
	"github.com/heliocloud/heliocloud-go/stacks"
)

// BenchmarkSynthGSFCCold is one `cdk synth --context instance=gsfc` minus the
// CLI: a new process that starts Node.js, loads aws-cdk-lib, builds every
// stack with cdk-nag and writes cdk.out. The app binary is built once.
func BenchmarkSynthGSFCCold(b *testing.B) {
	app(b)
	for b.Loop() {
		if _, stderr, err := synth(b, map[string]string{"instance": "gsfc"}); err != nil {
			b.Fatalf("synth: %v\n%s", err, stderr)
		}
	}
}

// BenchmarkSynthGSFCWarm is a synth in a process whose jsii runtime is
// already up: what a second synth costs once Node.js and aws-cdk-lib are loaded.
func BenchmarkSynthGSFCWarm(b *testing.B) {
	cfg, err := config.Load(filepath.Join(root(b), "instances", "gsfc.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	wd, _ := os.Getwd()
	if err := os.Chdir(root(b)); err != nil {
		b.Fatal(err)
	}
	defer os.Chdir(wd)
	synthOnce := func() {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(b.TempDir()), StackTraces: jsii.Bool(false)})
		stacks.Build(app, cfg, stacks.Options{Account: cfg.Account, Region: cfg.Region})
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
		app.Synth(nil)
	}
	synthOnce() // start the runtime and build the Lambda code outside the timing
	b.ResetTimer()
	for b.Loop() {
		synthOnce()
	}
}

// BenchmarkValidateGSFC is `heliocloud validate gsfc` as an admin runs it:
// a new process, no Node.js.
func BenchmarkValidateGSFC(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "heliocloud")
	build := exec.Command("go", "build", "-o", bin, "./cmd/heliocloud")
	build.Dir = root(b)
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	for b.Loop() {
		cmd := exec.Command(bin, "validate", "gsfc")
		cmd.Dir = root(b)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("validate: %v\n%s", err, out)
		}
	}
}
