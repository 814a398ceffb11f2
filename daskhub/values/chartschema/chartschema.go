// Package chartschema checks Helm values against the JupyterHub chart's
// schema the way helm does: the chart's default values with the given
// values merged over them must validate. The schema and default values
// live in the shared folder beside the repository (<module root>/../shared/schemas),
// which CI copies next to its clone. A clone without it cannot run these
// checks: Require skips a test then, except in CI, where it fails it.
package chartschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heliocloud/heliocloud-go/internal/modroot"
	"github.com/heliocloud/heliocloud-go/internal/testtool"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// JupyterhubChart is the chart version whose schema is checked.
const JupyterhubChart = "4.4.0"

// ErrMissing is the error of Dir when the schemas are not beside the
// repository.
var ErrMissing = errors.New("the JupyterHub chart schema is missing")

// Require is Dir for a test: with the schemas missing it skips tb on a
// developer's machine and fails it when CI is set (internal/testtool's
// rule), naming the path it looked for.
func Require(tb testing.TB) {
	tb.Helper()
	if _, err := Dir(); err != nil {
		if errors.Is(err, ErrMissing) {
			testtool.Unavailable(tb, "%v", err)
			return
		}
		tb.Fatal(err)
	}
}

// Dir finds the shared schemas from the working directory: it walks up to
// the module root (go.mod) and looks beside it.
func Dir() (string, error) {
	dir, err := modroot.Dir()
	if err != nil {
		return "", err
	}
	schemas := filepath.Clean(filepath.Join(dir, "..", "shared", "schemas"))
	want := filepath.Join(schemas, "jupyterhub-chart-"+JupyterhubChart+".values.schema.json")
	if _, err := os.Stat(want); err != nil {
		return "", fmt.Errorf("%w: expected %s (copy the shared folder beside the repository's folder): %v", ErrMissing, want, err)
	}
	return schemas, nil
}

// ValidateJupyterhub merges vals over the chart's default values and
// validates the result against the chart's values schema.
func ValidateJupyterhub(vals map[string]any) error {
	dir, err := Dir()
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "jupyterhub-chart-"+JupyterhubChart+".default-values.yaml"))
	if err != nil {
		return err
	}
	var defaults map[string]any
	if err := yaml.Unmarshal(raw, &defaults); err != nil {
		return fmt.Errorf("chart default values: %w", err)
	}
	schema, err := jsonschema.NewCompiler().Compile(filepath.Join(dir, "jupyterhub-chart-"+JupyterhubChart+".values.schema.json"))
	if err != nil {
		return err
	}
	ours, err := asJSON(vals)
	if err != nil {
		return err
	}
	merged, err := asJSON(Merge(defaults, ours.(map[string]any)))
	if err != nil {
		return err
	}
	return schema.Validate(merged)
}

// Merge lays over on base as helm does: mappings merge key by key, anything
// else replaces, and null deletes the key.
func Merge(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if v == nil {
			delete(out, k)
			continue
		}
		bm, ok1 := out[k].(map[string]any)
		om, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			out[k] = Merge(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

// asJSON turns Go values into the forms a JSON decoder makes, which the
// validator expects.
func asJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
}
