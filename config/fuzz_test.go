package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, and
// must answer either a configuration or Problems that each name a path or
// a line. Run longer with: go test ./config -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", InstancesDir, "*.yaml"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{"", "name: x", "name: x\nteams: {a: null}", "base: {vpc: {availabilityZones: [1, {a: b}]}}", "&a [*a]", "name: !!binary aGk=", "? [a]\n: b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config without error")
			}
			return
		}
		var problems Problems
		if !errors.As(err, &problems) || len(problems) == 0 {
			t.Fatalf("want Problems, got %T %v", err, err)
		}
		for _, p := range problems {
			if p.Message == "" {
				t.Fatalf("problem without message: %+v", p)
			}
		}
	})
}

// BenchmarkLoadGSFC measures what `heliocloud validate gsfc` spends in the
// loader: parse, lay over defaults, validate.
func BenchmarkLoadGSFC(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", InstancesDir, "gsfc.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("gsfc.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
