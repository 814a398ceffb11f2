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
	"maps"
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

// collector turns listed objects into rows, which go to their year as they
// are read.
type collector struct {
	cfg *Config
	d   *Dataset
	sp  *spill
	res *ReindexResult
}

func (ix *Indexer) newCollector(d *Dataset) *collector {
	return &collector{cfg: ix.Config, d: d, sp: newSpill(d, ix.spillBytes), res: &ReindexResult{Dataset: d.ID}}
}

func (c *collector) add(key string, size int64) error {
	if c.cfg.IsOutput(c.d.Bucket, key) {
		return nil
	}
	start, ok := c.d.StartOf(key)
	if !ok {
		c.res.SkippedCount++
		if len(c.res.Skipped) < maxSkipped {
			c.res.Skipped = append(c.res.Skipped, Skipped{c.d.Bucket, key, "key does not match the time rule"})
		}
		return nil
	}
	c.res.Objects++
	return c.sp.add(truncate(start, c.d.Format()), key, size)
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
	c := ix.newCollector(d)
	defer c.sp.close()
	err = ix.store().list(ctx, d.Bucket, d.Prefix, func(page []object) error {
		for _, o := range page {
			if err := c.add(o.key, o.size); err != nil {
				return err
			}
		}
		ix.progress("list "+d.ID, c.res.Objects+c.res.SkippedCount, -1)
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
	c := ix.newCollector(d)
	defer c.sp.close()
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
		if err := c.add(k, size); err != nil {
			return err
		}
	}
}

// rebuild writes every year file of the span (header-only for years without
// data, including stale files outside the new span), then updates
// catalog.json. Each year's rows are loaded, sorted once and written on
// their own, two years at a time, so that memory follows the largest year
// rather than the dataset.
//
// From a listing, each year file is written once, conditionally on the ETag
// it had before the listing began (tags): a year that an event changed in
// the meantime is merged instead (see mergeYear). An inventory is older than
// the index files, so every year is merged with what events wrote since.
func (ix *Indexer) rebuild(ctx context.Context, c *collector, tags map[int]string, fromInventory bool) (*ReindexResult, error) {
	d, sp, res := c.d, c.sp, c.res
	span := map[int]bool{}
	for y := range sp.years {
		span[y] = true
	}
	for y := range tags {
		span[y] = true
	}
	if len(sp.years) > 0 {
		data := slices.Sorted(maps.Keys(sp.years))
		last := time.UnixMilli(sp.years[data[len(data)-1]].last).UTC()
		for y := data[0]; y <= stopOf(d, last, time.Time{}, false).Year(); y++ {
			span[y] = true
		}
	}
	years := slices.Sorted(maps.Keys(span))
	// The last row of a year stops at the first start of the next year with
	// data, known without loading it.
	type start struct {
		t  time.Time
		ok bool
	}
	next := make(map[int]start, len(years))
	var after start
	for i := len(years) - 1; i >= 0; i-- {
		next[years[i]] = after
		if sy := sp.years[years[i]]; sy != nil {
			after = start{time.UnixMilli(sy.first).UTC(), true}
		}
	}

	var merge []int
	if fromInventory {
		merge = years
	} else {
		var mu sync.Mutex
		var done atomic.Int64
		err := parallel(ctx, len(years), 2, func(ctx context.Context, i int) error {
			y := years[i]
			es, err := sp.load(y)
			if err != nil {
				return err
			}
			out, err := renderScratch(func(w io.Writer) error { return renderYear(d, w, es, next[y].t, next[y].ok) })
			if err != nil {
				return err
			}
			es = nil
			err = ix.store().putBody(ctx, d.Bucket, d.IndexKey(y), out.f, out.size, "text/csv", true, tags[y])
			out.close()
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
		es, err := sp.load(y)
		if err != nil {
			return nil, err
		}
		changed, err := ix.mergeYear(ctx, d, y, es, fromInventory)
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

// mergeYear writes a year file from rebuilt rows (sorted) without losing
// what events wrote meanwhile: a key on which the rebuilt rows and the
// current file disagree (missing from one, or with another size) is settled
// by asking S3 whether the object exists now and how large it is. With an
// inventory, keys missing from the current file are not asked about, since
// the inventory cannot know of newer objects but has every older one. The
// current file is scanned, not kept, and the rows S3 adds are few, so the
// merged year is not sorted again.
func (ix *Indexer) mergeYear(ctx context.Context, d *Dataset, y int, rebuilt []entry, fromInventory bool) (bool, error) {
	// Keys are looked up only in a current file, which a first rebuild
	// does not have.
	var at map[string]int
	prefix := d.DataKey("")
	changed := false
	err := ix.updateStream(ctx, d.Bucket, d.IndexKey(y), func(body io.Reader, _ int64, etag string, exists bool) (bool, error) {
		// A doubt is a row to ask S3 about: a rebuilt one (i >= 0) or one
		// only the current file has (i = -1).
		type doubt struct {
			e entry
			i int
		}
		var doubts []doubt
		seen := make([]bool, len(rebuilt))
		// The current file is read once, as a stream, and known after
		// that by its digest.
		cur := newDigestWriter()
		if exists && at == nil {
			at = make(map[string]int, len(rebuilt))
			for i, e := range rebuilt {
				at[e.key] = i
			}
		}
		if exists {
			only := map[string]bool{}
			tee := io.TeeReader(body, cur)
			_, err := catalog.ScanIndex(tee, func(r catalog.Row) {
				i, ok := at[r.Key]
				switch {
				case !ok && !only[r.Key]:
					only[r.Key] = true
					doubts = append(doubts, doubt{entry{r.Start.UnixMilli(), r.Size, r.Key}, -1})
				case ok && !seen[i] && rebuilt[i].size != r.Size:
					doubts = append(doubts, doubt{rebuilt[i], i})
				}
				if ok {
					seen[i] = true
				}
			})
			if _, cerr := io.Copy(io.Discard, tee); cerr != nil {
				return false, fmt.Errorf("get s3://%s/%s: %w", d.Bucket, d.IndexKey(y), cerr)
			}
			if err != nil {
				// A current file that is not a valid index is rebuilt as if
				// it were empty: rebuilds exist to fix those.
				doubts = nil
				clear(seen)
			}
		}
		if !fromInventory {
			for i, ok := range seen {
				if !ok {
					doubts = append(doubts, doubt{rebuilt[i], i})
				}
			}
		}
		sizes := make([]int64, len(doubts))
		present := make([]bool, len(doubts))
		err := parallel(ctx, len(doubts), 16, func(ctx context.Context, i int) error {
			var err error
			sizes[i], present[i], err = ix.store().head(ctx, d.Bucket, strings.TrimPrefix(doubts[i].e.key, prefix))
			return err
		})
		if err != nil {
			return false, err
		}
		gone := map[int]bool{}
		resized := map[int]int64{}
		var extra []entry
		for n, dt := range doubts {
			switch {
			case dt.i >= 0 && !present[n]:
				gone[dt.i] = true
			case dt.i >= 0:
				resized[dt.i] = sizes[n]
			case present[n]:
				dt.e.size = sizes[n]
				extra = append(extra, dt.e)
			}
		}
		out := rebuilt
		if len(gone)+len(resized)+len(extra) > 0 {
			// A copy, since a retry starts again from the rebuilt rows.
			slices.SortFunc(extra, compareEntries)
			out = make([]entry, 0, len(rebuilt)-len(gone)+len(extra))
			for i, e := range rebuilt {
				if gone[i] {
					continue
				}
				if s, ok := resized[i]; ok {
					e.size = s
				}
				for len(extra) > 0 && compareEntries(extra[0], e) < 0 {
					out = append(out, extra[0])
					extra = extra[1:]
				}
				out = append(out, e)
			}
			out = append(out, extra...)
		}
		wrote, done, err := ix.writeYear(ctx, d, y, cur.digest(), etag, exists, len(out), func(w io.Writer, next time.Time, hasNext bool) error {
			return renderYear(d, w, out, next, hasNext)
		})
		changed = changed || wrote
		return done, err
	})
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
