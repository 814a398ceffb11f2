package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNotFound is what a Fetcher returns for a missing object.
var ErrNotFound = errors.New("not found")

// Fetcher reads an object of the bucket being checked.
type Fetcher interface {
	Fetch(ctx context.Context, key string) ([]byte, error)
}

// Check reads a published bucket the way the official client does and returns
// every problem that would make a request fail or lose rows. It is stricter
// than the client in two places: every year between an entry's start and
// stop must have an index file, because anonymous readers get 403, not 404,
// for a missing one; and an entry with a file that covers time after its
// start year must set multiyear, which tells readers to look back a year.
func Check(ctx context.Context, bucket string, f Fetcher) []error {
	data, err := f.Fetch(ctx, FileName)
	if err != nil {
		return []error{fmt.Errorf("%s: %w", FileName, err)}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return []error{fmt.Errorf("%s: %w", FileName, err)}
	}
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }

	var status struct {
		Code json.Number `json:"code"`
	}
	if s, ok := raw["status"]; !ok {
		bad("%s: no status", FileName)
	} else if err := json.Unmarshal(s, &status); err != nil {
		bad("%s: status must be an object with an integer code: %v", FileName, err)
	} else if _, err := strconv.Atoi(string(status.Code)); err != nil {
		bad("%s: status code %q is not an integer", FileName, status.Code)
	}

	vkey := "version"
	if _, ok := raw[vkey]; !ok {
		vkey = "Cloudy"
	}
	var version string
	if v, ok := raw[vkey]; !ok {
		bad("%s: no version", FileName)
	} else if err := json.Unmarshal(v, &version); err != nil {
		bad("%s: version must be a string holding a number: %v", FileName, err)
	} else if n, err := strconv.ParseFloat(version, 64); err != nil {
		bad("%s: version %q is not a number", FileName, version)
	} else if n < 0.5 {
		bad("%s: version %q makes the client expect the legacy 3-column format", FileName, version)
	}

	var entries []map[string]any
	if err := json.Unmarshal(raw["catalog"], &entries); err != nil {
		return append(problems, fmt.Errorf("%s: catalog must be a list of entries: %v", FileName, err))
	}
	for i, e := range entries {
		problems = append(problems, checkEntry(ctx, bucket, f, i, e)...)
	}
	return problems
}

func checkEntry(ctx context.Context, bucket string, f Fetcher, i int, e map[string]any) []error {
	var problems []error
	str := func(k string) string {
		s, ok := e[k].(string)
		if !ok || s == "" {
			problems = append(problems, fmt.Errorf("catalog[%d]: %s missing or not a string", i, k))
		}
		return s
	}
	id, index, _, start, stop := str("id"), str("index"), str("title"), str("start"), str("stop")
	if len(problems) > 0 {
		return problems
	}
	where := fmt.Sprintf("catalog[%d] (%s)", i, id)
	if !(strings.HasPrefix(index, "s3://") || strings.HasPrefix(index, "http")) || !strings.HasSuffix(index, "/") {
		problems = append(problems, fmt.Errorf("%s: index %q must start with s3:// or http and end with /", where, index))
	}
	ownBucket := "s3://" + bucket + "/"
	if !strings.HasPrefix(index, ownBucket) {
		return append(problems, fmt.Errorf("%s: index %q is not in bucket %s, where the client looks", where, index, bucket))
	}
	var years [2]int
	for j, t := range []string{start, stop} {
		ft, err := DetectFormat(t)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", where, err))
			continue
		}
		tt, _ := ft.Parse(t)
		years[j] = tt.Year()
	}
	if len(problems) > 0 {
		return problems
	}
	multiYear, _ := e["multiyear"].(bool)
	if v, ok := e["multiyear"]; ok {
		if _, isBool := v.(bool); !isBool {
			problems = append(problems, fmt.Errorf("%s: multiyear must be true or false, not %v", where, v))
		}
	}
	// One crossing row is enough to show that readers need multiyear;
	// listing every one would bury the other problems.
	crossing := ""
	prefix := strings.TrimPrefix(index, ownBucket)
	var format TimeFormat
	for y := years[0]; y <= years[1]; y++ {
		key := prefix + IndexName(id, y)
		data, err := f.Fetch(ctx, key)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %s: %w", where, key, err))
			continue
		}
		rows, ft, err := ReadIndex(data)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %s: %w", where, key, err))
			continue
		}
		if ft != "" && format != "" && ft != format {
			problems = append(problems, fmt.Errorf("%s: %s: time format %s differs from %s in earlier years", where, key, ft, format))
		}
		if ft != "" {
			format = ft
		}
		for n, r := range rows {
			if r.Start.Year() != y {
				problems = append(problems, fmt.Errorf("%s: %s row %d: start %s is not in %d", where, key, n+1, r.Start, y))
			}
			if !strings.HasPrefix(r.Key, "s3://") {
				problems = append(problems, fmt.Errorf("%s: %s row %d: datakey %q is not an s3:// URI", where, key, n+1, r.Key))
			}
			if !multiYear && crossing == "" && r.CrossesYear() {
				crossing = fmt.Sprintf("%s row %d (%s) stops at %s", key, n+1, r.Key, format.Format(r.Stop))
			}
		}
	}
	if crossing != "" {
		problems = append(problems, fmt.Errorf("%s: %s, in a later year than its start, but the entry does not set multiyear: true, so a reader asking for that later year misses the file", where, crossing))
	}
	return problems
}
