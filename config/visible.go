package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Characters an editor shows as nothing or as a plain space, pasted in from
// web pages and word processors, make a key unknown or a value wrong while
// the file looks right. Messages name them, so the admin can find them.

// invisibleNames are the ones met in practice; others are named by code point.
var invisibleNames = map[rune]string{
	'\t':     "tab",
	'\u00a0': "no-break space",
	'\u2007': "figure space",
	'\u202f': "narrow no-break space",
	'\u200b': "zero-width space",
	'\u200c': "zero-width non-joiner",
	'\u200d': "zero-width joiner",
	'\u2060': "word joiner",
	'\ufeff': "byte order mark",
	'\u200e': "left-to-right mark",
	'\u200f': "right-to-left mark",
}

// isInvisible reports runes that show as nothing or as a space but are not
// the ASCII space: other spaces, format characters (zero-width, BOM, bidi
// marks) and control characters.
func isInvisible(r rune) bool {
	return r != ' ' && (unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) || unicode.IsControl(r))
}

// runeName names r for a message: U+00A0 (no-break space).
func runeName(r rune) string {
	if name, ok := invisibleNames[r]; ok {
		return fmt.Sprintf("U+%04X (%s)", r, name)
	}
	return fmt.Sprintf("U+%04X", r)
}

// firstInvisible is the first invisible rune of s, if any.
func firstInvisible(s string) (rune, bool) {
	for _, r := range s {
		if isInvisible(r) {
			return r, true
		}
	}
	return 0, false
}

// stripInvisible is s without its invisible runes.
func stripInvisible(s string) string {
	return strings.Map(func(r rune) rune {
		if isInvisible(r) {
			return -1
		}
		return r
	}, s)
}

// visiblePath is a key path as printed in a problem: as written when every
// character shows, else quoted with Go escapes ("base.vpc.flowLogs\u00a0").
func visiblePath(path string) string {
	if _, ok := firstInvisible(path); ok {
		return strconv.Quote(path)
	}
	return path
}

// invisibleValueProblem says why a text value holds a character that cannot
// be meant: a format or control character anywhere (line breaks and tabs in
// the middle of text excepted), or a space other than the ASCII one at
// either end. "" when there is none.
func invisibleValueProblem(s string) string {
	for i, r := range s {
		inner := i > 0 && i+len(string(r)) < len(s)
		if !isInvisible(r) || r == '\n' || r == '\r' || (inner && (r == '\t' || unicode.IsSpace(r))) {
			continue
		}
		where := "holds"
		switch {
		case i == 0:
			where = "starts with"
		case !inner:
			where = "ends with"
		}
		return fmt.Sprintf("%s %s the invisible character %s: delete it (it was probably pasted in with the text)", strconv.Quote(s), where, runeName(r))
	}
	return ""
}
