package config

import (
	"fmt"
	"strings"
)

// checker collects semantic problems after decoding, locating each by key
// path through the positions the decoder recorded.
type checker struct {
	pos      map[string]Pos
	problems Problems
}

// at returns where path was written, or where its nearest written parent is:
// a default the admin never wrote is reported at the section that holds it.
func (c *checker) at(path string) Pos {
	for p := path; ; {
		if pos, ok := c.pos[p]; ok {
			return pos
		}
		if p == "" {
			return Pos{}
		}
		if i := strings.LastIndexAny(p, ".["); i >= 0 {
			p = p[:i]
		} else {
			p = ""
		}
	}
}

func (c *checker) errorf(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Pos: c.at(path), Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) warnf(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Pos: c.at(path), Path: path, Message: fmt.Sprintf(format, args...), Warning: true})
}

// given reports whether the admin (or a defaults file) wrote path.
func (c *checker) given(path string) bool {
	_, ok := c.pos[path]
	return ok
}
