package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// validate runs from the project root, as an admin does.
func inRoot(t *testing.T) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(filepath.Join("..", "..")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
}

func TestValidateSummarisesAValidInstance(t *testing.T) {
	inRoot(t)
	code, out, errOut := runCLI(t, "validate", "gsfc")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{`instances/gsfc.yaml is valid: instance "gsfc" (NASA Goddard Space Flight Center) in 111122223333 us-east-1`, "  gsfc-Base\n", "network: new 10.100.0.0/16 over 3 zones"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestValidateReportsEveryProblemAndFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(file, []byte("name: x\nregoin: us-east-1\nbase:\n  vpc:\n    maxAzs: 0\n"), 0o644)
	code, out, errOut := runCLI(t, "validate", file)
	if code != 1 || out != "" {
		t.Fatalf("want exit 1 and no summary, got %d and %q", code, out)
	}
	for _, want := range []string{"2 problem(s)", file + `:2: error: regoin: unknown key (did you mean "region"?)`, file + ":5: error: base.vpc.maxAzs: must be from 1 to 6, got 0"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestValidateMissingFile(t *testing.T) {
	code, _, errOut := runCLI(t, "validate", "no-such-instance")
	if code != 1 || !strings.Contains(errOut, "instances/no-such-instance.yaml") {
		t.Fatalf("want exit 1 naming the file, got %d: %s", code, errOut)
	}
}

func TestSchemaIsJSONWithTopLevelKeys(t *testing.T) {
	code, out, _ := runCLI(t, "schema")
	var s struct {
		Properties map[string]any `json:"properties"`
		Required   []string       `json:"required"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil {
		t.Fatalf("exit %d, output not JSON", code)
	}
	if _, ok := s.Properties["daskhub"]; !ok || len(s.Required) != 1 || s.Required[0] != "name" {
		t.Fatalf("unexpected schema: properties %v, required %v", len(s.Properties), s.Required)
	}
}

func TestUnknownCommandShowsUsage(t *testing.T) {
	code, _, errOut := runCLI(t, "deploy")
	if code != 2 || !strings.Contains(errOut, `unknown command "deploy"`) || !strings.Contains(errOut, "validate") {
		t.Fatalf("got %d: %s", code, errOut)
	}
}

// Every instance file in instances/ points editors at the schema.
func TestInstanceFilesReferenceTheSchema(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "instances", "*.yaml"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if !strings.HasPrefix(string(b), "# yaml-language-server: $schema=../docs/heliocloud.schema.json\n") {
			t.Errorf("%s does not start with the yaml-language-server schema line", f)
		}
	}
}

// heliocloud cost prints the itemised month and, last, the idle total that
// validate's summary also gives.
func TestCostEndsWithIdleTotal(t *testing.T) {
	inRoot(t)
	code, out, errOut := runCLI(t, "cost", "gsfc")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "idle: $") || !strings.HasSuffix(last, "/month") {
		t.Fatalf("last line %q", last)
	}
	amount := strings.TrimSuffix(strings.TrimPrefix(last, "idle: "), "/month")
	for _, want := range []string{"NAT gateway", "EKS control plane", "per use"} {
		if !strings.Contains(out, want) {
			t.Errorf("cost output lacks %q", want)
		}
	}
	_, summary, _ := runCLI(t, "validate", "gsfc")
	if !strings.Contains(summary, "idle cost: "+amount+" a month") {
		t.Errorf("validate's summary lacks the idle cost %s:\n%s", amount, summary)
	}
	if code, _, _ := runCLI(t, "cost"); code != 2 {
		t.Errorf("cost without an instance exits %d, want 2", code)
	}
}
