// Package testtool holds the project's rule for tests that need a program
// from outside Go (a browser, an S3 server, python3): find it through an
// environment variable or PATH; when it is missing, skip the test on a
// developer's machine but fail it when CI is set, so CI can never pass by
// skipping.
package testtool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Find returns the program that env names, else the first of names found
// on PATH.
func Find(env string, names ...string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("none of %v found: set %s or install it", names, env)
}

// Need is Find for a test: a missing program makes tb Unavailable.
func Need(tb testing.TB, env string, names ...string) string {
	tb.Helper()
	p, err := Find(env, names...)
	if err != nil {
		Unavailable(tb, "%v", err)
	}
	return p
}

// Unavailable skips tb outside CI and fails it when CI is set.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s (CI is set, so this is an error)", msg)
	}
	tb.Skip(msg)
}

// RunPython runs script with python3 (env PYTHON, else PATH), giving it
// input as JSON on stdin, and decodes the JSON it prints into output. The
// project's Python (the hub's and the gateway's configuration) is run this
// way, with only the standard library.
func RunPython(tb testing.TB, script string, input, output any) {
	tb.Helper()
	python := Need(tb, "PYTHON", "python3")
	in, err := json.Marshal(input)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("python: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(out, output); err != nil {
		tb.Fatalf("python printed %q: %v", out, err)
	}
}
