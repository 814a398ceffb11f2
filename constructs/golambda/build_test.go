package golambda

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// coldCache points the package at an empty cache and forgets what this
// process built, as on a new machine; only testPackage is resolved.
func coldCache(t *testing.T) {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	cacheDir = t.TempDir()
	built = map[string]string{}
	oldSiblings := siblings
	siblings = nil
	t.Cleanup(func() {
		buildMu.Lock()
		defer buildMu.Unlock()
		cacheDir, built, siblings = "", map[string]string{}, oldSiblings
	})
}

// warmProcess forgets what this process built but keeps the cache, as a
// second synth does.
func warmProcess() {
	buildMu.Lock()
	defer buildMu.Unlock()
	built = map[string]string{}
}

// A second synth of unchanged sources must not build: it returns the zip
// of the first, untouched, and that zip equals one built from nothing.
func TestBuildReusesCacheAndMatchesColdBuild(t *testing.T) {
	coldCache(t)
	first, err := Build(testPackage)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(first, past, past); err != nil {
		t.Fatal(err)
	}
	warmProcess()
	second, err := Build(testPackage)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(second)
	if err != nil {
		t.Fatal(err)
	}
	if second != first || !info.ModTime().Equal(past) {
		t.Fatalf("warm build gave %s (modified %v), want the cached %s untouched", second, info.ModTime(), first)
	}
	warm, _ := os.ReadFile(second)
	coldCache(t)
	third, err := Build(testPackage)
	if err != nil {
		t.Fatal(err)
	}
	cold, _ := os.ReadFile(third)
	if filepath.Base(third) != filepath.Base(first) || !bytes.Equal(warm, cold) {
		t.Fatalf("cold build %s differs from cached %s", third, first)
	}
}

// The first Build of a process resolves every Lambda package of the module,
// so that changed ones build in parallel.
func TestFirstBuildResolvesAllLambdas(t *testing.T) {
	coldCache(t)
	siblings = []string{"./lambda/..."}
	if _, err := Build(testPackage); err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"./lambda/authpending", "./lambda/authteams", "./lambda/portal", "./lambda/registry"} {
		buildMu.Lock()
		path, ok := built[pkg]
		buildMu.Unlock()
		if !ok {
			t.Errorf("%s not built with the first", pkg)
			continue
		}
		if _, err := os.Stat(path); err != nil {
			t.Error(err)
		}
	}
}

// The key follows every input of the binary: a source file of this module
// (also one only a dependency holds), a dependency's module version, go.mod
// and the toolchain; and it is blind to what the build does not read.
func TestCacheKeyFollowsInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.go", "package main")
	write("dep.go", "package dep")
	write("dep_test.go", "package dep")
	type mod = struct {
		Path    string
		Version string
		Main    bool
		Replace *struct {
			Path    string
			Version string
		}
	}
	main := &listedPackage{ImportPath: "m/cmd", Name: "main", Dir: dir, GoFiles: []string{"main.go"}, Deps: []string{"fmt", "m/dep", "x/lib"}}
	byPath := map[string]*listedPackage{
		"m/cmd": main,
		"fmt":   {ImportPath: "fmt", Standard: true},
		"m/dep": {ImportPath: "m/dep", Dir: dir, GoFiles: []string{"dep.go"}, Module: &mod{Path: "m", Main: true}},
		"x/lib": {ImportPath: "x/lib", Dir: "/nonexistent", GoFiles: []string{"lib.go"}, Module: &mod{Path: "x", Version: "v1.0.0"}},
	}
	mainModule := map[string]string{"go.mod": "module m", "go.sum": ""}
	key := func() string {
		k, err := cacheKey(main, byPath, "go1.26.8", mainModule)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key()
	if key() != base {
		t.Fatal("key not stable")
	}
	write("dep_test.go", "package dep // changed")
	if key() != base {
		t.Error("a test file changed the key")
	}
	changes := []struct {
		what         string
		change, undo func()
	}{
		{"dependency source", func() { write("dep.go", "package dep // changed") }, func() { write("dep.go", "package dep") }},
		{"main source", func() { write("main.go", "package main // changed") }, func() { write("main.go", "package main") }},
		{"module version", func() { byPath["x/lib"].Module.Version = "v1.0.1" }, func() { byPath["x/lib"].Module.Version = "v1.0.0" }},
		{"go.mod", func() { mainModule["go.mod"] = "module m\ngo 1.26" }, func() { mainModule["go.mod"] = "module m" }},
	}
	for _, c := range changes {
		c.change()
		if key() == base {
			t.Errorf("%s changed but the key did not", c.what)
		}
		c.undo()
		if key() != base {
			t.Errorf("undoing the %s change did not restore the key", c.what)
		}
	}
	if k, _ := cacheKey(main, byPath, "go1.27.0", mainModule); k == base {
		t.Error("another Go version gave the same key")
	}
}
