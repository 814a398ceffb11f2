package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Schema returns a JSON Schema (draft-07) of the instance file, for editors:
// a YAML language server completes keys, shows these docs and flags unknown
// keys as the admin types. Validation proper is Load's: the schema cannot
// express cross-field rules.
func Schema() []byte {
	s := typeSchema(reflect.TypeOf(Config{}), "Config")
	s["$schema"] = "http://json-schema.org/draft-07/schema#"
	s["title"] = "HelioCloud instance"
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		panic(err) // only maps, slices and strings: cannot fail
	}
	return append(out, '\n')
}

func typeSchema(t reflect.Type, name string) map[string]any {
	switch t.Kind() {
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := yamlKey(f)
			if key == "" {
				continue
			}
			ps := typeSchema(f.Type, f.Type.Name())
			if doc := fieldDocs[t.Name()+"."+f.Name]; doc != "" {
				ps["description"] = doc
			}
			if enum := f.Tag.Get("enum"); enum != "" {
				if items, ok := ps["items"].(map[string]any); ok {
					items["enum"] = strings.Split(enum, ",")
				} else {
					ps["enum"] = strings.Split(enum, ",")
				}
			}
			if def, ok := f.Tag.Lookup("default"); ok {
				var v any
				if err := yaml.Unmarshal([]byte(def), &v); err == nil {
					ps["default"] = v
				}
			}
			if f.Tag.Get("required") == "true" {
				required = append(required, key)
			}
			props[key] = ps
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	case reflect.Map:
		// null removes an entry that the defaults provide.
		return map[string]any{"type": "object", "additionalProperties": map[string]any{
			"anyOf": []any{typeSchema(t.Elem(), t.Elem().Name()), map[string]any{"type": "null"}},
		}}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem(), t.Elem().Name())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	}
	panic(fmt.Sprintf("config: no schema for %s (%s)", name, t))
}

// Reference returns the configuration reference in Markdown: every key,
// its type, default and doc comment, section by section.
func Reference() string {
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("Generated from the doc comments of the `config` package by `go run ./cmd/heliocloud reference`; a test keeps it in sync.\n")
	b.WriteString("An instance file says only what differs from these defaults. Mappings merge key by key with the defaults,\n")
	b.WriteString("lists replace them, and `name: null` removes an entry that the defaults provide. YAML anchors, aliases\n")
	b.WriteString("and merge keys (`<<: *anchor`) work as YAML defines them: a mapping's own keys win over merged ones.\n")
	writeRef(&b, reflect.TypeOf(Config{}), "")
	return b.String()
}

func writeRef(b *strings.Builder, t reflect.Type, path string) {
	title := path
	if title == "" {
		title = "top level"
	}
	fmt.Fprintf(b, "\n## `%s`\n\n", title)
	if doc := fieldDocs[t.Name()]; doc != "" && path != "" {
		b.WriteString(doc + "\n\n")
	}
	b.WriteString("| key | type | default | description |\n|---|---|---|---|\n")
	type nested struct {
		t    reflect.Type
		path string
	}
	var subs []nested
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := yamlKey(f)
		if key == "" {
			continue
		}
		def := f.Tag.Get("default")
		if enum := f.Tag.Get("enum"); enum != "" {
			def = strings.TrimSpace(def + " (one of " + strings.ReplaceAll(enum, ",", ", ") + ")")
		}
		if f.Tag.Get("required") == "true" {
			def = "required"
		}
		doc := strings.ReplaceAll(fieldDocs[t.Name()+"."+f.Name], "|", `\|`)
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", key, typeWord(f.Type), def, doc)
		sub := joinPath(path, key)
		switch elem := f.Type; {
		case elem.Kind() == reflect.Struct:
			subs = append(subs, nested{elem, sub})
		case (elem.Kind() == reflect.Map || elem.Kind() == reflect.Slice) && elem.Elem().Kind() == reflect.Struct:
			subs = append(subs, nested{elem.Elem(), sub + ".<name>"})
			if elem.Kind() == reflect.Slice {
				subs[len(subs)-1].path = sub + "[]"
			}
		}
	}
	for _, s := range subs {
		writeRef(b, s.t, s.path)
	}
}

func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		return "section"
	case reflect.Map:
		return "map of name to " + typeWord(t.Elem())
	case reflect.Slice:
		return "list of " + typeWord(t.Elem())
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	}
	return "string"
}
