package config

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// defaultFiles hold the default collections (node groups, profiles, ...),
// one file per component; scalar defaults are struct tags.
//
//go:embed defaults/*.yaml
var defaultFiles embed.FS

// InstancesDir is where instance files live, relative to the project root.
const InstancesDir = "instances"

// Resolve turns what an admin typed (an instance name such as "gsfc", or a
// path to a YAML file) into a file path.
func Resolve(arg string) string {
	if strings.ContainsAny(arg, `/\`) || strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
		return arg
	}
	return filepath.Join(InstancesDir, arg+".yaml")
}

// Load reads the instance file at path, lays it over the built-in defaults
// and validates the result. The error, when the file is wrong, is Problems:
// every mistake with file, line and key path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading instance file: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for a file already read; name is used in messages.
func Parse(name string, data []byte) (*Config, error) {
	var problems Problems
	pos := map[string]Pos{}
	cfg := &Config{File: name}
	root := reflect.ValueOf(cfg).Elem()
	applyDefaults(root, &problems)

	defaults, err := fs.Glob(defaultFiles, "defaults/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(defaults)
	for _, f := range defaults {
		b, err := defaultFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		decodeFile(f, true, b, root, pos, &problems)
	}
	if !decodeFile(name, false, data, root, pos, &problems) {
		// Nothing of the file was read, so checking the defaults alone
		// would only bury the syntax error.
		return nil, problems
	}

	cfg.Daskhub.resolveVersions()
	c := &checker{pos: pos}
	cfg.Base.VPC.applyNatGateways(c)
	checkRequired(root, "", c)
	cfg.checkTop(c)
	cfg.checkComponents(c)
	cfg.Base.check(c, cfg)
	cfg.Auth.check(c, cfg)
	cfg.Portal.check(c, cfg)
	cfg.Daskhub.check(c, cfg)
	cfg.Data.check(c, cfg)
	cfg.Registry.check(c, cfg)
	cfg.Containers.check(c, cfg)
	cfg.checkARNs(c)
	cfg.checkHosts(c)
	cfg.checkEgress(c)
	// A value that failed to decode still holds its default, so semantic
	// checks of it (or below it) would only confuse: keep the decode error.
	decodeProblems := problems[:len(problems):len(problems)]
	for _, p := range c.problems {
		if !underAny(p.Path, decodeProblems) {
			problems = append(problems, p)
		}
	}
	problems.sort()
	cfg.Warnings = problems.Warnings()
	if errs := problems.Errors(); len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

func underAny(path string, decodeProblems Problems) bool {
	for _, d := range decodeProblems {
		if d.Path != "" && (path == d.Path || strings.HasPrefix(path, d.Path+".") || strings.HasPrefix(path, d.Path+"[")) {
			return true
		}
	}
	return false
}

// decodeFile parses one YAML document and lays it over root; it reports
// false when the file is not YAML at all. A file may hold only comments; it
// then changes nothing.
func decodeFile(name string, builtin bool, data []byte, root reflect.Value, pos map[string]Pos, problems *Problems) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return true
		}
		line := yamlErrorLine(err)
		*problems = append(*problems, Problem{Pos: Pos{File: name, Line: line, Builtin: builtin}, Message: "not valid YAML: " + yamlErrorText(err) + invisibleOnLine(data, line)})
		return false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		*problems = append(*problems, Problem{Pos: Pos{File: name, Line: extra.Line, Builtin: builtin}, Message: "holds more than one YAML document (---); put the instance in one"})
		return false
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return true
	}
	d := decoder{file: name, builtin: builtin, pos: pos, problems: problems}
	d.decode(&doc, root, "")
	return true
}

// invisibleOnLine names the first invisible character on the given line
// (1-based) of data, the usual cause of a YAML error an admin cannot see:
// a tab in the indentation, a no-break space before a colon.
func invisibleOnLine(data []byte, line int) string {
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	text := strings.TrimSuffix(lines[line-1], "\r")
	r, ok := firstInvisible(text)
	if !ok {
		return ""
	}
	if r == '\t' {
		return " (the line holds a tab, U+0009: YAML indents with spaces only)"
	}
	return fmt.Sprintf(" (the line holds the invisible character %s)", runeName(r))
}

// yamlErrorText is yaml.v3's message without its "yaml: line N:" prefix,
// since the problem names the line itself.
func yamlErrorText(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.HasPrefix(msg, "line ") {
		if _, rest, ok := strings.Cut(msg, ": "); ok {
			return rest
		}
	}
	return msg
}

// yamlErrorLine digs the line number out of yaml.v3's "yaml: line N: ..." text.
func yamlErrorLine(err error) int {
	var line int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &line)
	}
	return line
}
