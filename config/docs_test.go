package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/heliocloud/heliocloud-go/config/internal/fielddocs"
)

// The generated files must match the doc comments and structs they come
// from; regenerate as docs/developing.md says when this fails.
func TestGeneratedDocsAreCurrent(t *testing.T) {
	src, err := fielddocs.Generate(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		want []byte
	}{
		{"fielddocs_gen.go", src},
		{filepath.Join("..", "docs", "heliocloud.schema.json"), Schema()},
		{filepath.Join("..", "docs", "configuration.md"), []byte(Reference())},
	} {
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.want) {
			t.Errorf("%s is out of date: run go generate ./config && go run ./cmd/heliocloud schema > docs/heliocloud.schema.json && go run ./cmd/heliocloud reference > docs/configuration.md", f.path)
		}
	}
}

// Every key an admin can write has a description in the schema, so editors
// show help for all of them.
func TestEveryKeyIsDocumented(t *testing.T) {
	var walk func(t *testing.T, typ reflect.Type, path string)
	walk = func(t *testing.T, typ reflect.Type, path string) {
		switch typ.Kind() {
		case reflect.Map, reflect.Slice:
			walk(t, typ.Elem(), path+"[]")
		case reflect.Struct:
			for i := 0; i < typ.NumField(); i++ {
				f := typ.Field(i)
				if yamlKey(f) == "" {
					continue
				}
				if fieldDocs[typ.Name()+"."+f.Name] == "" {
					t.Errorf("%s.%s (%s.%s) has no doc comment", path, yamlKey(f), typ.Name(), f.Name)
				}
				walk(t, f.Type, path+"."+yamlKey(f))
			}
		}
	}
	walk(t, reflect.TypeOf(Config{}), "")
	var s map[string]any
	if err := json.Unmarshal(Schema(), &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
}
