package registry

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/heliocloud/heliocloud-go/registry/registryconfig"
	"io"
	"net/http"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heliocloud/heliocloud-go/catalog"
)

// Problem codes of an ingest report.
const (
	NotFound       = "NOT_FOUND"       // a listed file is not in the ingest area
	WrongSize      = "WRONG_SIZE"      // its size differs from the manifest
	BadExtension   = "BAD_EXTENSION"   // its extension is unknown or not the dataset's filetype
	BadManifest    = "BAD_MANIFEST"    // entries.json or a manifest.csv is missing or malformed
	UnknownDataset = "UNKNOWN_DATASET" // an entry names a dataset the configuration does not declare
	OutsidePrefix  = "OUTSIDE_PREFIX"  // a file would land outside its dataset's prefix
	TimeMismatch   = "TIME_MISMATCH"   // the key's time (by the dataset's rule) differs from the manifest, or there is none
	Duplicate      = "DUPLICATE"       // a key is listed twice
)

// Ingest file names, relative to the ingest prefix.
const (
	EntriesFile  = registryconfig.EntriesFile
	ManifestFile = registryconfig.ManifestFile
	ReportFile   = registryconfig.ReportFile
)

// IngestProblem is one thing wrong with an upload.
type IngestProblem struct {
	Dataset string `json:"dataset,omitempty"`
	Key     string `json:"key,omitempty"`
	Code    string `json:"code"`
	Detail  string `json:"detail"`
}

// IngestReport is written to <ingest prefix>report.json after every run.
type IngestReport struct {
	Source string `json:"source"`
	// Status is "rejected" (nothing was copied) or "ingested".
	Status   string          `json:"status"`
	Time     string          `json:"time"`
	Datasets []string        `json:"datasets"`
	Files    int             `json:"files"`
	Copied   int             `json:"copied"`
	Problems []IngestProblem `json:"problems"`
	Skipped  []Skipped       `json:"skipped,omitempty"`
}

// ErrRejected is returned when an upload had problems; the report lists them.
var ErrRejected = errors.New("ingest rejected")

type ingestFile struct {
	d        *Dataset
	src, dst string
	size     int64
}

// Ingest checks an upload in the ingest area s3://bucket/prefix/ (an
// entries.json, a <id>/manifest.csv per dataset, and the files), writes a
// report with every problem found, and only when there is none copies the
// files into their dataset buckets and indexes them. The upload is never
// deleted, whatever the outcome.
func (ix *Indexer) Ingest(ctx context.Context, source string) (*IngestReport, error) {
	bucket, prefix, err := ParseS3URI(source)
	if err != nil {
		return nil, err
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	rep := &IngestReport{Source: "s3://" + bucket + "/" + prefix, Status: "rejected", Problems: []IngestProblem{}}
	bad := func(ds, key, code, format string, args ...any) {
		rep.Problems = append(rep.Problems, IngestProblem{ds, key, code, fmt.Sprintf(format, args...)})
	}
	files := ix.readManifests(ctx, bucket, prefix, rep, bad)
	rep.Files = len(files)

	var mu sync.Mutex
	var checked atomic.Int64
	err = parallel(ctx, len(files), 16, func(ctx context.Context, i int) error {
		f := files[i]
		size, exists, err := ix.store().head(ctx, bucket, f.src)
		if httpStatus(err) == http.StatusForbidden {
			// Without ListBucket on the ingest bucket, S3 answers 403 for a
			// missing key; the upload is readable otherwise.
			exists, err = false, nil
		}
		if err != nil {
			return err
		}
		mu.Lock()
		switch {
		case !exists:
			bad(f.d.ID, f.dst, NotFound, "s3://%s/%s does not exist", bucket, f.src)
		case size != f.size:
			bad(f.d.ID, f.dst, WrongSize, "manifest says %d bytes, the file has %d", f.size, size)
		}
		mu.Unlock()
		ix.progress("check", checked.Add(1), int64(len(files)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rep.Problems, func(a, b int) bool {
		pa, pb := rep.Problems[a], rep.Problems[b]
		if pa.Dataset != pb.Dataset {
			return pa.Dataset < pb.Dataset
		}
		return pa.Key < pb.Key
	})
	rep.Time = catalog.Seconds.Format(ix.now())
	if len(rep.Problems) > 0 {
		if err := ix.writeReport(ctx, bucket, prefix, rep); err != nil {
			return rep, err
		}
		return rep, fmt.Errorf("%w: %d problems in %d files, see s3://%s/%s%s", ErrRejected, len(rep.Problems), len(files), bucket, prefix, ReportFile)
	}

	// Progress counts bytes, part by part, since one large file can take
	// minutes.
	var copied, copiedBytes atomic.Int64
	var totalBytes int64
	for _, f := range files {
		totalBytes += f.size
	}
	progress := func(n int64) { ix.progress("copy bytes", copiedBytes.Add(n), totalBytes) }
	err = parallel(ctx, len(files), 16, func(ctx context.Context, i int) error {
		f := files[i]
		if err := ix.store().copy(ctx, bucket, f.src, f.d.Bucket, f.dst, f.size, ix.copyPartSize(), progress); err != nil {
			return err
		}
		copied.Add(1)
		return nil
	})
	rep.Copied = int(copied.Load())
	if err != nil {
		rep.Problems = append(rep.Problems, IngestProblem{Code: "COPY_FAILED", Detail: err.Error()})
		if werr := ix.writeReport(ctx, bucket, prefix, rep); werr != nil {
			return rep, errors.Join(err, werr)
		}
		return rep, err
	}
	events := make([]Event, len(files))
	for i, f := range files {
		events[i] = Event{Bucket: f.d.Bucket, Key: f.dst}
	}
	res := ix.Apply(ctx, events)
	rep.Skipped = res.Skipped
	if err := errors.Join(res.Errors...); err != nil {
		return rep, fmt.Errorf("files copied but not all indexed (run reindex): %w", err)
	}
	rep.Status = "ingested"
	return rep, ix.writeReport(ctx, bucket, prefix, rep)
}

func (ix *Indexer) writeReport(ctx context.Context, bucket, prefix string, rep *IngestReport) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return ix.store().put(ctx, bucket, prefix+ReportFile, append(data, '\n'), "application/json", false, "")
}

// readManifests reads entries.json and each dataset's manifest.csv and
// checks everything that needs no request per file.
func (ix *Indexer) readManifests(ctx context.Context, bucket, prefix string, rep *IngestReport, bad func(ds, key, code, format string, args ...any)) []ingestFile {
	data, _, err := ix.store().get(ctx, bucket, prefix+EntriesFile)
	if err != nil {
		bad("", prefix+EntriesFile, BadManifest, "cannot read %s: %v", EntriesFile, err)
		return nil
	}
	var entries []map[string]any
	if err := json.Unmarshal(data, &entries); err != nil {
		bad("", prefix+EntriesFile, BadManifest, "%s must be a JSON array of catalog entries: %v", EntriesFile, err)
		return nil
	}
	var files []ingestFile
	seen := map[string]bool{}
	for i, e := range entries {
		id, _ := e["id"].(string)
		d, ok := ix.Config.Dataset(id)
		if !ok {
			bad(id, "", UnknownDataset, "%s entry %d: id %q is not a dataset of the registry configuration", EntriesFile, i, id)
			continue
		}
		rep.Datasets = append(rep.Datasets, id)
		mkey := prefix + id + "/" + ManifestFile
		mdata, _, err := ix.store().get(ctx, bucket, mkey)
		if err != nil {
			bad(id, mkey, BadManifest, "cannot read the manifest: %v", err)
			continue
		}
		rows, err := parseManifest(mdata)
		if err != nil {
			bad(id, mkey, BadManifest, "%v", err)
			continue
		}
		for _, r := range rows {
			f := ingestFile{d: d, src: prefix + r.key, dst: r.key, size: r.size}
			if seen[d.Bucket+"/"+r.key] {
				bad(id, r.key, Duplicate, "listed more than once")
				continue
			}
			seen[d.Bucket+"/"+r.key] = true
			if !strings.HasPrefix(r.key, d.Prefix) {
				bad(id, r.key, OutsidePrefix, "the dataset's files live under %q", d.Prefix)
				continue
			}
			if ext, ok := extensionMatches(r.key, d.FileType, ix.Config.Extensions); !ok {
				bad(id, r.key, BadExtension, "extension %q is not one of %s for filetype %s (registry.extensions)", ext, strings.Join(extensionsFor(d.FileType, ix.Config.Extensions), ", "), d.FileType)
			}
			if t, ok := d.StartOf(r.key); !ok {
				bad(id, r.key, TimeMismatch, "the key does not match the dataset's time rule, so it could not be indexed")
			} else if !truncate(t, d.Format()).Equal(truncate(r.time, d.Format())) {
				bad(id, r.key, TimeMismatch, "manifest time %s, key time %s", r.time.Format(time.RFC3339Nano), t.Format(time.RFC3339Nano))
			}
			files = append(files, f)
		}
	}
	return files
}

type manifestRow struct {
	time time.Time
	key  string
	size int64
}

// parseManifest reads "time, s3key, filesize" rows after a header line that
// may start with '#'.
func parseManifest(data []byte) ([]manifestRow, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("manifest header: %w", err)
	}
	if len(head) < 3 || strings.TrimSpace(strings.TrimPrefix(head[0], "#")) != "time" || strings.TrimSpace(head[1]) != "s3key" || strings.TrimSpace(head[2]) != "filesize" {
		return nil, fmt.Errorf("manifest header must be time, s3key, filesize; got %q", strings.Join(head, ","))
	}
	var rows []manifestRow
	var errs []error
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("manifest line %d: %w", line, err)
		}
		if len(rec) < 3 {
			errs = append(errs, fmt.Errorf("line %d: %d columns, need 3", line, len(rec)))
			continue
		}
		t, err := parseTime(strings.TrimSpace(rec[0]))
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: time %q is not ISO 8601 with Z", line, rec[0]))
			continue
		}
		size, err := strconv.ParseInt(strings.TrimSpace(rec[2]), 10, 64)
		if err != nil || size < 0 {
			errs = append(errs, fmt.Errorf("line %d: filesize %q is not a count of bytes", line, rec[2]))
			continue
		}
		key := strings.TrimPrefix(strings.TrimSpace(rec[1]), "/")
		rows = append(rows, manifestRow{t.UTC(), key, size})
	}
	return rows, errors.Join(errs...)
}

// extensionMatches reports whether key's extension is one the table lists
// for one of the dataset's filetypes; a dataset of filetype "other" accepts
// anything.
func extensionMatches(key, fileTypes string, table map[string][]string) (string, bool) {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(key), "."))
	for _, ft := range strings.Split(fileTypes, ",") {
		if ft == "other" {
			return ext, true
		}
		if slices.Contains(table[ft], ext) {
			return ext, true
		}
	}
	return ext, false
}

func extensionsFor(fileTypes string, table map[string][]string) []string {
	var out []string
	for _, ft := range strings.Split(fileTypes, ",") {
		for _, e := range table[ft] {
			out = append(out, "."+e)
		}
	}
	sort.Strings(out)
	return out
}

// parseTime accepts RFC 3339 and the client's minute-precision form.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return catalog.Minutes.Parse(s)
}
