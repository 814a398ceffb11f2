//go:build unix

package golambda

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// testPackage is the smallest Lambda main package of the module.
const testPackage = "./lambda/authpending"

// A deployer whose umask is 077 once got a `bootstrap` of mode 0700 into
// the asset, and Lambda could not run it (and the asset hash, blind to the
// mode, kept the bad zip forever). The package must hold an executable
// `bootstrap` whatever the umask, and two builds must be byte-identical.
func TestBuildPackagesExecutableWhateverTheUmask(t *testing.T) {
	var zips [][]byte
	for _, mask := range []int{0o077, 0o022} {
		old := syscall.Umask(mask)
		coldCache(t) // build afresh under this umask
		path, err := Build(testPackage)
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkZip(t, data)
		zips = append(zips, data)
	}
	if !bytes.Equal(zips[0], zips[1]) {
		t.Fatal("builds under umask 077 and 022 gave different zips")
	}
}

// Two synths, the first building into an empty cache and the second
// reading the cache, give the same asset hash, and the asset staged in the
// cloud assembly (what `cdk deploy` uploads) is the zip with the
// executable.
func TestSynthStagesExecutableZipWithStableHash(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	coldCache(t)
	var keys []string
	for range 2 {
		warmProcess()
		out := t.TempDir()
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
		stack := awscdk.NewStack(app, jsii.String("probe"), nil)
		New(stack, "Fn", &Props{Package: testPackage})
		tpl := assertions.Template_FromStack(stack, nil)
		var key string
		for _, r := range (*tpl.ToJSON())["Resources"].(map[string]any) {
			r := r.(map[string]any)
			if r["Type"] == "AWS::Lambda::Function" {
				key = r["Properties"].(map[string]any)["Code"].(map[string]any)["S3Key"].(string)
			}
		}
		if !strings.HasSuffix(key, ".zip") {
			t.Fatalf("function code key %q: want a zip asset", key)
		}
		keys = append(keys, key)
		app.Synth(nil)
		data, err := os.ReadFile(filepath.Join(out, "asset."+key))
		if err != nil {
			t.Fatalf("staged asset: %v", err)
		}
		checkZip(t, data)
	}
	if keys[0] != keys[1] {
		t.Fatalf("asset hash changed between synths: %s, %s", keys[0], keys[1])
	}
}

// checkZip asserts that data is a zip of exactly one entry, `bootstrap`, a
// regular file of mode 0755 written by a Unix creator (Lambda's unzip reads
// the mode from the external attributes only then), with the fixed time.
func checkZip(t *testing.T, data []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		t.Fatalf("zip entries: want only bootstrap, got %d entries", len(zr.File))
	}
	f := zr.File[0]
	if creator := f.CreatorVersion >> 8; creator != 3 {
		t.Errorf("bootstrap creator system %d, want 3 (Unix)", creator)
	}
	if mode := f.ExternalAttrs >> 16; mode != 0o100755 {
		t.Errorf("bootstrap Unix mode %o, want 100755", mode)
	}
	if !f.Modified.Equal(zipTime) {
		t.Errorf("bootstrap time %v, want %v", f.Modified, zipTime)
	}
}
