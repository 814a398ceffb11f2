package config

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is where a value was written: a file and a 1-based line.
type Pos struct {
	File string
	Line int
	// Builtin marks the defaults embedded in this program (config/defaults).
	Builtin bool
}

func (p Pos) String() string {
	switch {
	case p.File == "":
		return "(built-in default)"
	case p.Builtin:
		return fmt.Sprintf("built-in config/%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Problem is one mistake (or, with Warning set, one risky choice) in a
// configuration, located by file, line and key path.
type Problem struct {
	Pos     Pos
	Path    string
	Message string
	Warning bool
}

func (p Problem) String() string {
	kind := "error"
	if p.Warning {
		kind = "warning"
	}
	path := visiblePath(p.Path)
	if path == "" {
		path = "(top level)"
	}
	return fmt.Sprintf("%s: %s: %s: %s", p.Pos, kind, path, p.Message)
}

// Problems is every problem found in one load. As an error it reports all of
// them, errors before warnings, in file order, so an admin fixes a file in
// one pass.
type Problems []Problem

func (ps Problems) Error() string {
	errs := ps.Errors()
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s) in the configuration:", len(errs))
	for _, p := range errs {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Errors returns the problems that are not warnings.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Warnings returns the problems that do not stop a deployment.
func (ps Problems) Warnings() Problems {
	var out Problems
	for _, p := range ps {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}

func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].Pos, ps[j].Pos
		if a.Builtin != b.Builtin || (a.File == "") != (b.File == "") {
			// The admin's own file first: that is where the fix usually goes.
			return !a.Builtin && a.File != ""
		}
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
}
