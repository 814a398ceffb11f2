package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The decoder fills the typed structs from YAML nodes by reflection instead of
// yaml.v3's own Decode, because Decode stops at the first unknown key, knows
// nothing of key paths and cannot overlay one file on another.
//
// Struct tags it reads:
//
//	yaml:"name"       the key (camelCase); "-" skips the field
//	default:"value"   the default, written as YAML, applied when the struct is made
//	enum:"a,b,c"      the allowed values of a string, or of each string of a list
//	required:"true"   the key must be given (checked after all files are laid over)
type decoder struct {
	file     string
	builtin  bool
	pos      map[string]Pos
	problems *Problems
}

func (d *decoder) at(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: n.Line, Builtin: d.builtin}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	*d.problems = append(*d.problems, Problem{Pos: d.at(n), Path: path, Message: fmt.Sprintf(format, args...)})
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// decode lays node n over v, which already holds defaults or values from an
// earlier file: mappings merge key by key, lists and scalars replace.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.pos[path] = d.at(n)
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	default:
		d.decodeScalar(n, v, path)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping of keys (%s), got %s", strings.Join(fieldKeys(v.Type()), ", "), describe(n))
		return
	}
	seen := map[string]bool{}
	for _, kv := range d.pairs(n, path) {
		k, val := kv[0], kv[1]
		key := k.Value
		kpath := joinPath(path, key)
		if seen[key] {
			d.errorf(k, kpath, "key given twice")
			continue
		}
		seen[key] = true
		f, ok := fieldByKey(v.Type(), key)
		if !ok {
			allowed := strings.Join(fieldKeys(v.Type()), ", ")
			if r, hidden := firstInvisible(key); hidden {
				hint := suggest(stripInvisible(key), fieldKeys(v.Type()))
				if _, ok := fieldByKey(v.Type(), stripInvisible(key)); ok {
					hint = fmt.Sprintf(" (did you mean %q?)", stripInvisible(key))
				}
				d.errorf(k, kpath, "unknown key: it holds the invisible character %s%s; allowed keys: %s", runeName(r), hint, allowed)
			} else {
				d.errorf(k, kpath, "unknown key%s; allowed keys: %s", suggest(key, fieldKeys(v.Type())), allowed)
			}
			continue
		}
		if isNull(val) {
			// An empty value keeps the default, so "key:" with nothing after it is harmless.
			d.pos[kpath] = d.at(k)
			continue
		}
		fv := v.FieldByIndex(f.Index)
		d.decode(val, fv, kpath)
		d.pos[kpath] = d.at(k)
		if allowed := f.Tag.Get("enum"); allowed != "" {
			d.checkEnum(val, fv, kpath, allowed)
		}
	}
}

// checkEnum refuses a string, or a string of a list, outside allowed.
func (d *decoder) checkEnum(n *yaml.Node, v reflect.Value, path, allowed string) {
	values := strings.Split(allowed, ",")
	bad := func(n *yaml.Node, path, s string) {
		d.errorf(n, path, "%q is not allowed%s; allowed values: %s", s, suggest(s, values), strings.ReplaceAll(allowed, ",", ", "))
	}
	switch {
	case v.Kind() == reflect.String && !slices.Contains(values, v.String()):
		bad(n, path, v.String())
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String && n.Kind == yaml.SequenceNode:
		for i := range v.Len() {
			if s := v.Index(i).String(); !slices.Contains(values, s) {
				bad(n.Content[i], fmt.Sprintf("%s[%d]", path, i), s)
			}
		}
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping of name to settings, got %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	seen := map[string]bool{}
	for _, kv := range d.pairs(n, path) {
		k, val := kv[0], kv[1]
		key := k.Value
		kpath := joinPath(path, key)
		if k.Kind != yaml.ScalarNode || key == "" {
			d.errorf(k, path, "map keys must be plain names")
			continue
		}
		if seen[key] {
			d.errorf(k, kpath, "name given twice")
			continue
		}
		seen[key] = true
		kv := reflect.ValueOf(key).Convert(v.Type().Key())
		if isNull(val) {
			// "name: null" (or "name: ~") removes an entry the defaults provide.
			v.SetMapIndex(kv, reflect.Value{})
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		if old := v.MapIndex(kv); old.IsValid() {
			elem.Set(old)
		} else {
			applyDefaults(elem, d.problems)
		}
		d.decode(val, elem, kpath)
		d.pos[kpath] = d.at(k)
		v.SetMapIndex(kv, elem)
	}
}

// pairs lists the key-value pairs of mapping n with YAML merge keys
// (`<<: *anchor`, or `<<: [*a, *b]`) resolved as YAML defines them: the
// mapping's own keys win over merged ones, and an earlier merged mapping
// wins over a later one. Merged pairs keep their nodes, so a problem in one
// is reported at the line where the anchor wrote it.
func (d *decoder) pairs(n *yaml.Node, path string) [][2]*yaml.Node {
	var own, merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!merge" {
			own = append(own, [2]*yaml.Node{k, val})
			continue
		}
		sources := []*yaml.Node{val}
		if resolve(val).Kind == yaml.SequenceNode {
			sources = resolve(val).Content
		}
		for _, src := range sources {
			if m := resolve(src); m.Kind == yaml.MappingNode {
				merged = append(merged, d.pairs(m, path)...)
			} else {
				d.errorf(src, path, "the merge key << takes a mapping or a list of mappings (such as <<: *defaults), got %s", describe(m))
			}
		}
	}
	taken := map[string]bool{}
	for _, kv := range own {
		taken[kv[0].Value] = true
	}
	for _, kv := range merged {
		if !taken[kv[0].Value] {
			taken[kv[0].Value] = true
			own = append(own, kv)
		}
	}
	return own
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		elem := out.Index(i)
		applyDefaults(elem, d.problems)
		d.decode(item, elem, fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(out)
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected %s, got %s", kindWord(v.Kind()), describe(n))
		return
	}
	if strings.Contains(n.Value, "CHANGEME") {
		d.errorf(n, path, "still holds the CHANGEME placeholder: put your own value here")
		return
	}
	switch v.Kind() {
	case reflect.String:
		if msg := invisibleValueProblem(n.Value); msg != "" {
			d.errorf(n, path, "%s", msg)
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Tag != "!!bool" || err != nil {
			d.errorf(n, path, "expected true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Tag != "!!int" || err != nil {
			d.errorf(n, path, "expected a whole number, got %q", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if (n.Tag != "!!int" && n.Tag != "!!float") || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.errorf(n, path, "expected a number, got %q", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: field type %s at %s is not supported by the decoder", v.Type(), path))
	}
}

// applyDefaults sets the default tags of a freshly made struct (and of the
// structs inside it). Defaults are this package's own text, so a failure is a
// programming error surfaced as a problem rather than a panic.
func applyDefaults(v reflect.Value, problems *Problems) {
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("yaml") == "-" {
			continue
		}
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			applyDefaults(fv, problems)
		}
		def, ok := f.Tag.Lookup("default")
		if !ok {
			continue
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(def), &n); err != nil {
			*problems = append(*problems, Problem{Path: t.Name() + "." + f.Name, Message: "bad built-in default: " + err.Error()})
			continue
		}
		d := decoder{pos: map[string]Pos{}, problems: problems}
		d.decode(&n, fv, t.Name()+"."+f.Name)
	}
}

// checkRequired reports every required key still empty after all files are
// laid over, at the nearest place the admin wrote.
func checkRequired(v reflect.Value, path string, c *checker) {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := yamlKey(f)
			if key == "" {
				continue
			}
			fpath := joinPath(path, key)
			fv := v.Field(i)
			if f.Tag.Get("required") == "true" && fv.IsZero() {
				c.errorf(fpath, "is required but not given")
				continue
			}
			checkRequired(fv, fpath, c)
		}
	case reflect.Map:
		for _, k := range sortedKeys(v) {
			checkRequired(v.MapIndex(k), joinPath(path, k.String()), c)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			checkRequired(v.Index(i), fmt.Sprintf("%s[%d]", path, i), c)
		}
	}
}

func sortedKeys(m reflect.Value) []reflect.Value {
	keys := m.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if key == "-" {
		return ""
	}
	return key
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func fieldKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if k := yamlKey(t.Field(i)); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "something else"
}

func kindWord(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	}
	return "text"
}

// suggest returns ` (did you mean "x"?)` for the closest allowed word, or "".
func suggest(got string, allowed []string) string {
	best, bestDist := "", 3
	for _, a := range allowed {
		dist := editDistance(strings.ToLower(got), strings.ToLower(a))
		if dist < bestDist || (dist == bestDist && best == "") && dist < 3 {
			best, bestDist = a, dist
		}
	}
	if best == "" || best == got {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
