package golambda

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/heliocloud/heliocloud-go/internal/modroot"
)

// siblings are where the module's Lambda main packages live. The first
// Build of a process resolves all of them at once, so that those whose
// sources changed build in parallel rather than one after another as the
// stacks ask for them (a function the instance does not use costs one
// build when its sources change, then nothing).
var siblings = []string{"./lambda/..."}

// buildArgs are the flags of every Lambda build; they are part of the cache
// key. -trimpath, no VCS stamp and an empty build id make the binary a
// function of its sources alone (the same on every machine); -s -w drop the
// symbol table and DWARF, which Lambda never reads.
var buildArgs = []string{"-trimpath", "-buildvcs=false", "-tags", "lambda.norpc", "-ldflags", "-s -w -buildid="}

// buildEnv is the target: Graviton, static.
var buildEnv = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
	// cacheDir overrides the cache folder (tests); empty means
	// <module root>/.build/lambda.
	cacheDir string
)

// zipTime is the modification time of every packaged file: fixed, so the
// same binary always gives the same zip, the same asset hash and no
// needless deploy. 1980-01-01 is the earliest time a zip entry can hold.
var zipTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// bootstrapMode is the packaged executable's mode. Lambda runs `bootstrap`
// as a program, so it must be executable; the mode is written into the zip
// here rather than taken from the file system, where it would follow the
// deployer's umask (0700 under umask 077) or, on Windows, lack the execute
// bit altogether. Being inside the zip, the mode is part of the asset hash.
const bootstrapMode fs.FileMode = 0o755

// Build compiles a main package of this module for Lambda and returns the
// path of a zip holding its `bootstrap`, mode 0755, with a fixed time.
//
// Zips are cached in .build/lambda under a hash of everything that
// determines the binary (see cacheKey), so a synth whose Lambda sources did
// not change runs no compiler and no linker at all; Go's own up-to-date
// check cannot do that for a reproducible build, which has no build id to
// compare. A package is resolved once per process.
func Build(pkg string) (string, error) {
	pkg = "./" + filepath.ToSlash(filepath.Clean(pkg))
	buildMu.Lock()
	defer buildMu.Unlock()
	if zipPath, ok := built[pkg]; ok {
		return zipPath, nil
	}
	root, err := modroot.Dir()
	if err != nil {
		return "", err
	}
	dir := cacheDir
	if dir == "" {
		dir = filepath.Join(root, ".build", "lambda")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	patterns := []string{pkg}
	if len(built) == 0 {
		patterns = append(patterns, siblings...)
	}
	mains, err := listMains(root, patterns)
	if err != nil {
		return "", err
	}
	if _, ok := mains[pkg]; !ok {
		return "", fmt.Errorf("Lambda package %s: not a main package of this module", pkg)
	}
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, runtime.GOMAXPROCS(0))
		mu   sync.Mutex
		errs []error
	)
	for p, key := range mains {
		if _, ok := built[p]; ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			zipPath, err := buildCached(root, dir, p, key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			built[p] = zipPath
		}()
	}
	wg.Wait()
	if zipPath, ok := built[pkg]; ok {
		return zipPath, nil
	}
	return "", errors.Join(errs...)
}

// buildCached returns the cached zip of pkg for key, building it if absent.
func buildCached(root, dir, pkg, key string) (string, error) {
	name := strings.Trim(strings.ReplaceAll(filepath.Clean(pkg), string(filepath.Separator), "-"), ".-")
	zipPath := filepath.Join(dir, name+"-"+key[:32]+".zip")
	if _, err := os.Stat(zipPath); err == nil {
		return zipPath, nil
	}
	// Build and zip beside the target and rename: several synths (parallel
	// test packages) may build the same function at once, and a reader must
	// never hash a half-written zip.
	tmp := filepath.Join(dir, fmt.Sprintf(".%s-%d", name, os.Getpid()))
	defer os.Remove(tmp)
	args := append(append([]string{"build"}, buildArgs...), "-o", tmp, pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), buildEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building Lambda package %s: %v\n%s", pkg, err, out)
	}
	if err := writeZip(tmp+".zip", tmp); err != nil {
		os.Remove(tmp + ".zip")
		return "", fmt.Errorf("packaging Lambda package %s: %w", pkg, err)
	}
	if err := os.Rename(tmp+".zip", zipPath); err != nil {
		return "", err
	}
	// Zips of this package's older sources are never read again.
	old, _ := filepath.Glob(filepath.Join(dir, name+"-*.zip"))
	for _, o := range old {
		if o != zipPath && len(filepath.Base(o)) == len(filepath.Base(zipPath)) {
			os.Remove(o)
		}
	}
	return zipPath, nil
}

// listedPackage is the part of `go list -json` output the cache key uses.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Standard   bool
	DepOnly    bool
	Deps       []string
	Module     *struct {
		Path    string
		Version string
		Main    bool
		Replace *struct {
			Path    string
			Version string
		}
	}
	GoFiles, CgoFiles, CFiles, CXXFiles, HFiles, SFiles, SysoFiles, EmbedFiles []string
	Error                                                                      *struct{ Err string }
}

// listMains lists the main packages matched by patterns, with their
// dependencies as the target build sees them, and returns each main
// package (as ./relative/path) with its cache key.
func listMains(root string, patterns []string) (map[string]string, error) {
	var goenv []byte
	var envErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		cmd := exec.Command("go", "env", "GOVERSION", "GOROOT", "GOFLAGS", "GOARM64", "GOEXPERIMENT")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), buildEnv...)
		goenv, envErr = cmd.Output()
	}()
	args := append([]string{"list", "-deps", "-json", "-tags", "lambda.norpc"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), buildEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	<-done
	if err != nil {
		return nil, fmt.Errorf("listing Lambda packages %s: %v\n%s", strings.Join(patterns, " "), err, stderr.Bytes())
	}
	if envErr != nil {
		return nil, fmt.Errorf("go env: %w", envErr)
	}
	var pkgs []*listedPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		p := new(listedPackage)
		if err := dec.Decode(p); err != nil {
			return nil, fmt.Errorf("reading go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	mainModule := map[string]string{}
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		mainModule[name] = string(data)
	}
	byPath := map[string]*listedPackage{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	mains := map[string]string{}
	for _, p := range pkgs {
		if p.DepOnly || p.Name != "main" {
			continue
		}
		if p.Error != nil {
			return nil, fmt.Errorf("Lambda package %s: %s", p.ImportPath, p.Error.Err)
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			return nil, err
		}
		key, err := cacheKey(p, byPath, string(goenv), mainModule)
		if err != nil {
			return nil, err
		}
		mains["./"+filepath.ToSlash(rel)] = key
	}
	return mains, nil
}

// cacheKey hashes everything that determines main's binary: the build
// flags and target, the Go toolchain (standard packages are its own), the
// main module's go.mod and go.sum, and for every package in the build
// either its module version (the module cache is read-only and go.sum
// checked) or, for this module and local replacements, its source files.
func cacheKey(main *listedPackage, byPath map[string]*listedPackage, goenv string, mainModule map[string]string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "args %q\nenv %q\ngo %q\n", buildArgs, buildEnv, goenv)
	for _, name := range []string{"go.mod", "go.sum"} {
		fmt.Fprintf(h, "%s %d\n%s\n", name, len(mainModule[name]), mainModule[name])
	}
	fmt.Fprintf(h, "main %s\n", main.ImportPath)
	// Deps is sorted by go list, so the key does not depend on map order.
	for _, path := range append(append([]string(nil), main.Deps...), main.ImportPath) {
		p, ok := byPath[path]
		if !ok {
			return "", fmt.Errorf("go list did not describe %s, a dependency of %s", path, main.ImportPath)
		}
		switch {
		case p.Standard:
			fmt.Fprintf(h, "std %s\n", p.ImportPath)
		case p.Module != nil && !p.Module.Main && (p.Module.Replace == nil || p.Module.Replace.Version != ""):
			m := p.Module
			fmt.Fprintf(h, "pkg %s module %s@%s", p.ImportPath, m.Path, m.Version)
			if m.Replace != nil {
				fmt.Fprintf(h, " => %s@%s", m.Replace.Path, m.Replace.Version)
			}
			fmt.Fprintln(h)
		default:
			fmt.Fprintf(h, "pkg %s local\n", p.ImportPath)
			for _, files := range [][]string{p.GoFiles, p.CgoFiles, p.CFiles, p.CXXFiles, p.HFiles, p.SFiles, p.SysoFiles, p.EmbedFiles} {
				for _, f := range files {
					data, err := os.ReadFile(filepath.Join(p.Dir, f))
					if err != nil {
						return "", fmt.Errorf("hashing Lambda sources: %w", err)
					}
					fmt.Fprintf(h, "file %s %d\n", f, len(data))
					h.Write(data)
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeZip writes a zip at path with one entry, `bootstrap`, holding the
// file binary, with bootstrapMode and zipTime whatever the file's own.
func writeZip(path, binary string) error {
	in, err := os.Open(binary)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(out)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: zipTime}
	hdr.SetMode(bootstrapMode)
	w, err := zw.CreateHeader(hdr)
	if err == nil {
		_, err = io.Copy(w, in)
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
