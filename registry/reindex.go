package registry

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/heliocloud/heliocloud-go/catalog"
)

// maxSkipped bounds how many skipped keys a rebuild lists; the count is
// always exact.
const maxSkipped = 1000

// ReindexResult is the outcome of a rebuild.
type ReindexResult struct {
	Dataset string `json:"dataset"`
	// Objects is how many data objects were indexed.
	Objects int64 `json:"objects"`
	// SkippedCount counts keys under the prefix that did not match the time
	// rule; Skipped lists the first of them.
	SkippedCount int64     `json:"skippedCount"`
	Skipped      []Skipped `json:"skipped,omitempty"`
	// Written lists the index files and catalog written.
	Written []string `json:"written"`
}

// collector turns listed objects into rows.
type collector struct {
	cfg  *Config
	d    *Dataset
	rows []catalog.Row
	res  *ReindexResult
}

func (c *collector) add(key string, size int64) {
	if c.cfg.isOutput(c.d.Bucket, key) {
		return
	}
	start, ok := c.d.StartOf(key)
	if !ok {
		c.res.SkippedCount++
		if len(c.res.Skipped) < maxSkipped {
			c.res.Skipped = append(c.res.Skipped, Skipped{c.d.Bucket, key, "key does not match the time rule"})
		}
		return
	}
	c.rows = append(c.rows, catalog.Row{Start: truncate(start, c.d.Format()), Key: key, Size: size})
}

// Reindex rebuilds a dataset's index files from a full listing of its
// prefix, writing each year file once; events applied while it runs are
// kept (see rebuild).
func (ix *Indexer) Reindex(ctx context.Context, d *Dataset) (*ReindexResult, error) {
	// The year files' ETags are taken before the listing starts, so that
	// an event applied after it makes the rebuilt file's write fail.
	tags, err := ix.yearETags(ctx, d)
	if err != nil {
		return nil, err
	}
	c := &collector{cfg: ix.Config, d: d, res: &ReindexResult{Dataset: d.ID}}
	err = ix.store().list(ctx, d.Bucket, d.Prefix, func(page []object) error {
		for _, o := range page {
			c.add(o.key, o.size)
		}
		ix.progress("list "+d.ID, int64(len(c.rows))+c.res.SkippedCount, -1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ix.rebuild(ctx, c, tags, false)
}

// inventoryManifest is the part of an S3 Inventory manifest.json the
// registry reads.
type inventoryManifest struct {
	SourceBucket      string `json:"sourceBucket"`
	DestinationBucket string `json:"destinationBucket"`
	FileFormat        string `json:"fileFormat"`
	FileSchema        string `json:"fileSchema"`
	Files             []struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
	} `json:"files"`
}

// ReindexInventory rebuilds a dataset's index files from a CSV S3 Inventory
// report (the s3:// URI of its manifest.json) instead of a listing, for
// buckets with millions of objects. Objects added since the report are kept
// (rows of the current files that the report lacks are checked with S3);
// an object deleted since the report but still in it comes back until the
// next report.
func (ix *Indexer) ReindexInventory(ctx context.Context, d *Dataset, manifestURI string) (*ReindexResult, error) {
	mb, mk, err := ParseS3URI(manifestURI)
	if err != nil {
		return nil, err
	}
	data, _, err := ix.store().get(ctx, mb, mk)
	if err != nil {
		return nil, fmt.Errorf("inventory manifest %s: %w", manifestURI, err)
	}
	var m inventoryManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("inventory manifest %s: %w", manifestURI, err)
	}
	if m.FileFormat != "CSV" {
		return nil, fmt.Errorf("inventory manifest %s: format %q, only CSV is read", manifestURI, m.FileFormat)
	}
	if m.SourceBucket != d.Bucket {
		return nil, fmt.Errorf("inventory manifest %s lists bucket %q, dataset %s is in %q", manifestURI, m.SourceBucket, d.ID, d.Bucket)
	}
	cols := map[string]int{}
	for i, f := range strings.Split(m.FileSchema, ",") {
		cols[strings.TrimSpace(f)] = i
	}
	for _, need := range []string{"Bucket", "Key", "Size"} {
		if _, ok := cols[need]; !ok {
			return nil, fmt.Errorf("inventory manifest %s: fileSchema %q has no %s field", manifestURI, m.FileSchema, need)
		}
	}
	dest := m.DestinationBucket
	if i := strings.LastIndex(dest, ":::"); i >= 0 {
		dest = dest[i+3:]
	}
	if dest == "" {
		dest = mb
	}
	c := &collector{cfg: ix.Config, d: d, res: &ReindexResult{Dataset: d.ID}}
	for n, f := range m.Files {
		if err := ix.readInventoryFile(ctx, dest, f.Key, cols, c); err != nil {
			return nil, err
		}
		ix.progress("inventory "+d.ID, int64(n+1), int64(len(m.Files)))
	}
	tags, err := ix.yearETags(ctx, d)
	if err != nil {
		return nil, err
	}
	return ix.rebuild(ctx, c, tags, true)
}

func (ix *Indexer) readInventoryFile(ctx context.Context, bucket, key string, cols map[string]int, c *collector) error {
	out, err := ix.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return fmt.Errorf("inventory file s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(out.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("inventory file s3://%s/%s: %w", bucket, key, err)
	}
	r := csv.NewReader(zr)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	bi, ki, si := cols["Bucket"], cols["Key"], cols["Size"]
	latest, hasLatest := cols["IsLatest"]
	marker, hasMarker := cols["IsDeleteMarker"]
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("inventory file s3://%s/%s line %d: %w", bucket, key, line, err)
		}
		if len(rec) <= max(bi, ki, si) || rec[bi] != c.d.Bucket {
			continue
		}
		// Versioned inventories list old versions and delete markers too.
		if hasLatest && len(rec) > latest && rec[latest] != "true" || hasMarker && len(rec) > marker && rec[marker] == "true" {
			continue
		}
		// Inventory keys are URL-encoded.
		k, err := url.QueryUnescape(rec[ki])
		if err != nil {
			return fmt.Errorf("inventory file s3://%s/%s line %d: key %q: %w", bucket, key, line, rec[ki], err)
		}
		if !strings.HasPrefix(k, c.d.Prefix) {
			continue
		}
		size, err := strconv.ParseInt(rec[si], 10, 64)
		if err != nil {
			return fmt.Errorf("inventory file s3://%s/%s line %d: size %q", bucket, key, line, rec[si])
		}
		c.add(k, size)
	}
}

// rebuild sorts the collected rows and writes every year file of the span
// (header-only for years without data, including stale files outside the
// new span), then updates catalog.json.
//
// From a listing, each year file is written once, conditionally on the ETag
// it had before the listing began (tags): a year that an event changed in
// the meantime is merged instead (see mergeYear). An inventory is older than
// the index files, so every year is merged with what events wrote since.
func (ix *Indexer) rebuild(ctx context.Context, c *collector, tags map[int]string, fromInventory bool) (*ReindexResult, error) {
	d, rows, res := c.d, c.rows, c.res
	res.Objects = int64(len(rows))
	catalog.SortRows(rows)
	for i := range rows {
		rows[i].Key = d.DataKey(rows[i].Key)
	}
	d.setStops(rows, time.Time{}, false)

	byYear := map[int][]catalog.Row{}
	for i := 0; i < len(rows); {
		y := rows[i].Start.Year()
		j := i
		for j < len(rows) && rows[j].Start.Year() == y {
			j++
		}
		byYear[y] = rows[i:j]
		i = j
	}
	if len(rows) > 0 {
		for y := rows[0].Start.Year(); y <= rows[len(rows)-1].Stop.Year(); y++ {
			if _, ok := byYear[y]; !ok {
				byYear[y] = nil
			}
		}
	}
	for y := range tags {
		if _, ok := byYear[y]; !ok {
			byYear[y] = nil
		}
	}
	years := make([]int, 0, len(byYear))
	for y := range byYear {
		years = append(years, y)
	}
	sort.Ints(years)

	var merge []int
	if fromInventory {
		merge = years
	} else {
		var mu sync.Mutex
		var done atomic.Int64
		err := parallel(ctx, len(years), 4, func(ctx context.Context, i int) error {
			y := years[i]
			out := catalog.AppendIndex(make([]byte, 0, 128*len(byYear[y])+64), byYear[y], d.Format())
			err := ix.store().put(ctx, d.Bucket, d.IndexKey(y), out, "text/csv", true, tags[y])
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, errConflict):
				merge = append(merge, y)
			case err != nil:
				return err
			default:
				res.Written = append(res.Written, d.DataKey(d.IndexKey(y)))
			}
			ix.progress("write "+d.ID, done.Add(1), int64(len(years)))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// Later years first, so that each merged year's last stop is read from
	// its already rebuilt successor.
	sort.Sort(sort.Reverse(sort.IntSlice(merge)))
	for n, y := range merge {
		changed, err := ix.mergeYear(ctx, d, y, byYear[y], fromInventory)
		if err != nil {
			return nil, err
		}
		if changed {
			res.Written = append(res.Written, d.DataKey(d.IndexKey(y)))
		}
		if fromInventory {
			ix.progress("write "+d.ID, int64(n+1), int64(len(merge)))
		}
	}
	if !fromInventory && d.Duration == 0 {
		// A merged year may start differently than the listing said: settle
		// the years before the merged ones.
		settled, err := ix.settleBefore(ctx, d, merge)
		if err != nil {
			return nil, err
		}
		res.Written = append(res.Written, settled...)
	}
	sort.Strings(res.Written)
	res.Written = slices.Compact(res.Written)
	w, err := ix.reconcile(ctx, d, true)
	res.Written = append(res.Written, w...)
	return res, err
}

// mergeYear writes a year file from rebuilt rows without losing what events
// wrote meanwhile: a key on which the rebuilt rows and the current file
// disagree (missing from one, or with another size) is settled by asking S3
// whether the object exists now and how large it is. With an inventory, keys
// missing from the current file are not asked about, since the inventory
// cannot know of newer objects but has every older one.
func (ix *Indexer) mergeYear(ctx context.Context, d *Dataset, y int, rebuilt []catalog.Row, fromInventory bool) (bool, error) {
	var headErr error
	changed, err := ix.rewriteYear(ctx, d, y, func(cur []catalog.Row) []catalog.Row {
		want := make(map[string]catalog.Row, len(rebuilt)+len(cur))
		for _, r := range rebuilt {
			want[r.Key] = r
		}
		have := make(map[string]catalog.Row, len(cur))
		for _, r := range cur {
			have[r.Key] = r
		}
		var doubt []catalog.Row
		for _, r := range cur {
			// A size on which the two disagree is asked of S3 too: keeping
			// the file's would never repair a wrong one.
			if w, ok := want[r.Key]; !ok || w.Size != r.Size {
				doubt = append(doubt, r)
			}
		}
		if !fromInventory {
			for _, r := range rebuilt {
				if _, ok := have[r.Key]; !ok {
					doubt = append(doubt, r)
				}
			}
		}
		prefix := d.DataKey("")
		sizes := make([]int64, len(doubt))
		exists := make([]bool, len(doubt))
		headErr = parallel(ctx, len(doubt), 16, func(ctx context.Context, i int) error {
			var err error
			sizes[i], exists[i], err = ix.store().head(ctx, d.Bucket, strings.TrimPrefix(doubt[i].Key, prefix))
			return err
		})
		if headErr != nil {
			return cur
		}
		for i, r := range doubt {
			if exists[i] {
				r.Size = sizes[i]
				want[r.Key] = r
			} else {
				delete(want, r.Key)
			}
		}
		out := make([]catalog.Row, 0, len(want))
		for _, r := range want {
			out = append(out, r)
		}
		catalog.SortRows(out)
		return out
	}, true)
	if headErr != nil {
		return changed, headErr
	}
	return changed, err
}

// ReindexAll rebuilds every dataset of the configuration, one after another.
func (ix *Indexer) ReindexAll(ctx context.Context) ([]*ReindexResult, error) {
	var out []*ReindexResult
	var errs []error
	for i := range ix.Config.Datasets {
		r, err := ix.Reindex(ctx, &ix.Config.Datasets[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("dataset %s: %w", ix.Config.Datasets[i].ID, err))
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}
