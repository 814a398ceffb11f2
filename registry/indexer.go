package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/heliocloud/heliocloud-go/catalog"
)

// Indexer updates the index files and catalog.json of the datasets in Config.
//
// Concurrency design: several Lambda invocations (and a laptop) may update
// the same files at once, and SQS may deliver an event twice or out of
// order. Three rules keep the files right:
//
//  1. Events are treated as hints, not deltas: for each key the indexer asks
//     S3 whether the object exists now (HEAD) and makes its row match. A
//     redelivered or reordered event therefore converges on the same state
//     and, when nothing differs, writes nothing.
//  2. Every write of an index file or catalog.json is a conditional PUT
//     (If-Match on the ETag that was read, If-None-Match: * to create), and a
//     lost race re-reads and re-applies. No row is lost or duplicated.
//  3. A value derived from other files (the stop of a year's last row is the
//     next year's first start; the catalog's start and stop) is read after
//     the file being written, and re-read after the write; if it moved, the
//     write is redone. Whoever changes a year file then re-settles the
//     previous non-empty year. So the last writer always saw the final state.
type Indexer struct {
	S3     *s3.Client
	Config *Config
	// Now gives modification times; time.Now when nil.
	Now func() time.Time
	// Progress receives progress of long runs when set; calls never overlap.
	Progress func(Progress)
	// CopyPartSize is the largest file that ingest copies with a single
	// CopyObject (which S3 limits to 5 GiB); larger files are copied in
	// parts of this size (UploadPartCopy), raised when a file would need
	// more than 10,000 parts. It is kept within S3's 5 MiB to 5 GiB;
	// DefaultCopyPartSize when zero.
	CopyPartSize int64
	// spillBytes is how many bytes of rows a rebuild keeps in memory before
	// it moves them to scratch files; defaultSpillBytes when zero.
	spillBytes int

	progressMu sync.Mutex
}

// Progress reports how far a long run is.
type Progress struct {
	// Stage names the step, e.g. "list", "write", "check", "copy".
	Stage string
	Done  int64
	// Total is -1 when unknown.
	Total int64
}

func (ix *Indexer) progress(stage string, done, total int64) {
	if ix.Progress != nil {
		ix.progressMu.Lock()
		defer ix.progressMu.Unlock()
		ix.Progress(Progress{Stage: stage, Done: done, Total: total})
	}
}

// DefaultCopyPartSize keeps most files to one request and copies a large
// one in parallel parts, which also keeps it within a Lambda run.
const DefaultCopyPartSize = 1 << 30

func (ix *Indexer) copyPartSize() int64 {
	if ix.CopyPartSize == 0 {
		return DefaultCopyPartSize
	}
	return min(max(ix.CopyPartSize, minPartSize), maxCopySize)
}

func (ix *Indexer) now() time.Time {
	if ix.Now != nil {
		return ix.Now().UTC()
	}
	return time.Now().UTC()
}

func (ix *Indexer) store() store { return store{ix.S3} }

// Event says that an object was created or removed. Which one does not
// matter: the indexer looks at the object itself.
type Event struct {
	Bucket string
	Key    string
}

// Skipped is a key the indexer did not index, and why.
type Skipped struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// ApplyResult is the outcome of Apply.
type ApplyResult struct {
	// Skipped lists keys that are in a dataset prefix but were not indexed.
	Skipped []Skipped
	// Errors has one element per event: nil when it was applied or skipped.
	// A failed event should be retried.
	Errors []error
	// Written lists the index files and catalogs that were rewritten.
	Written []string
}

// Apply brings the index rows of the events' keys in line with the objects
// in S3, grouping the events so that each year file is rewritten once per
// call.
func (ix *Indexer) Apply(ctx context.Context, events []Event) *ApplyResult {
	res := &ApplyResult{Errors: make([]error, len(events))}
	groups := map[*Dataset][]int{}
	// starts holds each dataset's keys with the start time the routing
	// check read from them, so that no key is matched twice.
	starts := map[*Dataset]map[string]time.Time{}
	var order []*Dataset
	for i, e := range events {
		if ix.Config.IsOutput(e.Bucket, e.Key) {
			continue
		}
		d := ix.Config.Route(e.Bucket, e.Key)
		if d == nil {
			res.Skipped = append(res.Skipped, Skipped{e.Bucket, e.Key, "not in any dataset prefix"})
			continue
		}
		start, ok := d.StartOf(e.Key)
		if !ok {
			res.Skipped = append(res.Skipped, Skipped{e.Bucket, e.Key, fmt.Sprintf("key does not match the time rule of dataset %s", d.ID)})
			continue
		}
		if groups[d] == nil {
			order = append(order, d)
			starts[d] = map[string]time.Time{}
		}
		groups[d] = append(groups[d], i)
		starts[d][e.Key] = start
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, d := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			written, err := ix.applyDataset(ctx, d, starts[d])
			mu.Lock()
			defer mu.Unlock()
			res.Written = append(res.Written, written...)
			if err != nil {
				for _, i := range groups[d] {
					res.Errors[i] = fmt.Errorf("dataset %s: %w", d.ID, err)
				}
			}
		}()
	}
	wg.Wait()
	sort.Strings(res.Written)
	return res
}

// parallel runs fn for 0..n-1 with at most limit at once and returns the
// first error.
func parallel(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, limit)
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// applyDataset makes the rows of the given keys (with their start times)
// match the objects in S3.
func (ix *Indexer) applyDataset(ctx context.Context, d *Dataset, starts map[string]time.Time) ([]string, error) {
	keys := slices.Sorted(maps.Keys(starts))
	want := make([]*catalog.Row, len(keys))
	err := parallel(ctx, len(keys), 16, func(ctx context.Context, i int) error {
		size, exists, err := ix.store().head(ctx, d.Bucket, keys[i])
		if err != nil || !exists {
			return err
		}
		want[i] = &catalog.Row{Start: truncate(starts[keys[i]], d.Format()), Key: d.DataKey(keys[i]), Size: size}
		return nil
	})
	if err != nil {
		return nil, err
	}
	byYear := map[int]map[string]*catalog.Row{}
	for i, k := range keys {
		y := starts[k].Year()
		if byYear[y] == nil {
			byYear[y] = map[string]*catalog.Row{}
		}
		byYear[y][d.DataKey(k)] = want[i]
	}
	years := make([]int, 0, len(byYear))
	for y := range byYear {
		years = append(years, y)
	}
	sort.Ints(years)
	var written []string
	for _, y := range years {
		rows := byYear[y]
		changed, err := ix.updateYear(ctx, d, y, func(cur []catalog.Row) []catalog.Row {
			out := make([]catalog.Row, 0, len(cur)+len(rows))
			for _, r := range cur {
				if _, touched := rows[r.Key]; !touched {
					out = append(out, r)
				}
			}
			for _, r := range rows {
				if r != nil {
					out = append(out, *r)
				}
			}
			catalog.SortRows(out)
			return out
		})
		if err != nil {
			return written, err
		}
		if changed {
			written = append(written, d.DataKey(d.IndexKey(y)))
		}
	}
	// The previous year is settled even when this call wrote nothing: an
	// earlier delivery may have died between the two writes.
	if d.Duration == 0 {
		w, err := ix.settleBefore(ctx, d, years)
		written = append(written, w...)
		if err != nil {
			return written, err
		}
	}
	w, err := ix.reconcile(ctx, d, len(written) > 0)
	return append(written, w...), err
}

// settleBefore makes the last row of the last non-empty year before each of
// years stop at the first start after it, and returns the files it wrote.
func (ix *Indexer) settleBefore(ctx context.Context, d *Dataset, years []int) ([]string, error) {
	// Settling rewrites only files that exist, so one listing serves every
	// year; a file another writer adds meanwhile is settled by that writer.
	have, err := ix.listYears(ctx, d)
	if err != nil {
		return nil, err
	}
	var written []string
	settled := map[int]bool{}
	for _, y := range years {
		p, ok, err := ix.prevNonEmpty(ctx, d, have, y)
		if err != nil {
			return written, err
		}
		if !ok || settled[p] {
			continue
		}
		settled[p] = true
		// Most changes do not move the previous year's last stop: check it
		// from the file's tail (read before the later years, as updateYear
		// does) before rewriting a whole year.
		if current, err := ix.lastStopCurrent(ctx, d, have, p); err != nil {
			return written, err
		} else if current {
			continue
		}
		changed, err := ix.updateYear(ctx, d, p, nil)
		if err != nil {
			return written, err
		}
		if changed {
			written = append(written, d.DataKey(d.IndexKey(p)))
		}
	}
	return written, nil
}

func truncate(t time.Time, f catalog.TimeFormat) time.Time {
	switch f {
	case catalog.Minutes:
		return t.Truncate(time.Minute)
	case catalog.Milliseconds:
		return t.Truncate(time.Millisecond)
	}
	return t.Truncate(time.Second)
}

// setStops fills in stop times: start+Duration, else the next row's start,
// the first start of a later year (next) for the last row, or its own start
// when there is none.
func setStops(d *Dataset, rows []catalog.Row, next time.Time, hasNext bool) {
	for i := range rows {
		after, has := next, hasNext
		if i+1 < len(rows) {
			after, has = rows[i+1].Start, true
		}
		rows[i].Stop = stopOf(d, rows[i].Start, after, has)
	}
}

// stopOf is the stop of a row starting at start and followed by a row (or a
// later year's first row) starting at next, when hasNext.
func stopOf(d *Dataset, start, next time.Time, hasNext bool) time.Time {
	switch {
	case d.Duration > 0:
		return truncate(start.Add(time.Duration(d.Duration)), d.Format())
	case hasNext:
		return next
	}
	return start
}

// updateYear re-reads, mutates (when mutate is set), recomputes the stops of
// and conditionally rewrites one year file until it is consistent with the
// files after it. It reports whether it wrote.
func (ix *Indexer) updateYear(ctx context.Context, d *Dataset, y int, mutate func([]catalog.Row) []catalog.Row) (bool, error) {
	return ix.rewriteYear(ctx, d, y, mutate, false)
}

// rewriteYear is updateYear; with repair, a current file that is not a valid
// index is treated as empty instead of refused (rebuilds exist to fix those).
func (ix *Indexer) rewriteYear(ctx context.Context, d *Dataset, y int, mutate func([]catalog.Row) []catalog.Row, repair bool) (bool, error) {
	key := d.IndexKey(y)
	changed := false
	err := ix.update(ctx, d.Bucket, key, func(data []byte, etag string, exists bool) (bool, error) {
		var rows []catalog.Row
		if exists {
			var err error
			if rows, _, err = catalog.ReadIndex(data); err != nil && !repair {
				return false, fmt.Errorf("s3://%s/%s: %w (fix or remove the file, then reindex)", d.Bucket, key, err)
			}
		}
		if mutate != nil {
			rows = mutate(rows)
		}
		wrote, done, err := ix.writeYear(ctx, d, y, digestOf(data), etag, exists, len(rows), func(w io.Writer, next time.Time, hasNext bool) error {
			setStops(d, rows, next, hasNext)
			_, err := w.Write(catalog.AppendIndex(nil, rows, d.Format()))
			return err
		})
		changed = changed || wrote
		return done, err
	})
	return changed, err
}

// writeYear is one attempt to write year y's file of n rows, which render
// writes given the first start after the year, over the current file (its
// digest and etag; exists false when there is none). The file is rendered into a scratch
// file, not memory, since a rebuilt year can hold millions of rows. It writes
// nothing when the bytes are the same, and reports done false when the next
// year's first start moved during the write, so that the caller redoes it.
func (ix *Indexer) writeYear(ctx context.Context, d *Dataset, y int, cur digest, etag string, exists bool, n int, render func(w io.Writer, next time.Time, hasNext bool) error) (wrote, done bool, err error) {
	if !exists && n == 0 {
		return false, true, nil
	}
	var next time.Time
	var hasNext bool
	if d.Duration == 0 && n > 0 {
		if next, hasNext, err = ix.nextStart(ctx, d, y); err != nil {
			return false, false, err
		}
	}
	out, err := renderScratch(func(w io.Writer) error { return render(w, next, hasNext) })
	if err != nil {
		return false, false, err
	}
	defer out.close()
	if exists && out.digest == cur {
		return false, true, nil
	}
	if err := ix.store().putBody(ctx, d.Bucket, d.IndexKey(y), out.f, out.size, "text/csv", true, etag); err != nil {
		return false, false, err
	}
	if d.Duration > 0 || n == 0 {
		return true, true, nil
	}
	n2, h2, err := ix.nextStart(ctx, d, y)
	return true, h2 == hasNext && n2.Equal(next), err
}

// update reads s3://bucket/key and hands its bytes and ETag (exists false
// when there is none) to attempt, which writes conditionally on that ETag,
// until attempt reports done. A lost race (errConflict) backs off before the
// next round; any other error ends the update.
func (ix *Indexer) update(ctx context.Context, bucket, key string, attempt func(data []byte, etag string, exists bool) (done bool, err error)) error {
	return ix.updateStream(ctx, bucket, key, func(body io.Reader, size int64, etag string, exists bool) (bool, error) {
		var data []byte
		if exists {
			var buf bytes.Buffer
			buf.Grow(int(size))
			if _, err := buf.ReadFrom(body); err != nil {
				return false, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
			}
			data = buf.Bytes()
		}
		return attempt(data, etag, exists)
	})
}

// updateStream is update with the current object as a stream, for a year
// file too large to hold beside its rebuilt rows.
func (ix *Indexer) updateStream(ctx context.Context, bucket, key string, attempt func(body io.Reader, size int64, etag string, exists bool) (done bool, err error)) error {
	conflicts := 0
	for range maxAttempts {
		body, etag, size, err := ix.store().open(ctx, bucket, key)
		exists := err == nil
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		done, err := attempt(body, size, etag, exists)
		if body != nil {
			body.Close()
		}
		if errors.Is(err, errConflict) {
			conflicts++
			if err := backoff(ctx, conflicts); err != nil {
				return err
			}
			continue
		}
		if err != nil || done {
			return err
		}
	}
	return fmt.Errorf("s3://%s/%s: still conflicting after %d attempts", bucket, key, maxAttempts)
}

// lastStopCurrent reports whether the last row of year y already stops at
// the first start after y, among the year files listed in years.
func (ix *Indexer) lastStopCurrent(ctx context.Context, d *Dataset, years []int, y int) (bool, error) {
	last, ok, err := ix.edgeRow(ctx, d, y, false)
	if err != nil || !ok {
		return false, err
	}
	next, hasNext, err := ix.nextStartIn(ctx, d, years, y)
	if err != nil {
		return false, err
	}
	want := last.Start
	if hasNext {
		want = next
	}
	return last.Stop.Equal(want), nil
}

// listYears returns the years that have an index file, ascending.
func (ix *Indexer) listYears(ctx context.Context, d *Dataset) ([]int, error) {
	tags, err := ix.yearETags(ctx, d)
	years := make([]int, 0, len(tags))
	for y := range tags {
		years = append(years, y)
	}
	sort.Ints(years)
	return years, err
}

// yearETags returns the ETag of each year file of the dataset.
func (ix *Indexer) yearETags(ctx context.Context, d *Dataset) (map[int]string, error) {
	tags := map[int]string{}
	err := ix.store().list(ctx, d.Bucket, d.IndexPrefix+d.ID+"_", func(page []object) error {
		for _, o := range page {
			if y, ok := catalog.ParseIndexName(d.ID, strings.TrimPrefix(o.key, d.IndexPrefix)); ok {
				tags[y] = o.etag
			}
		}
		return nil
	})
	return tags, err
}

// nextStart returns the first start in a year after y.
func (ix *Indexer) nextStart(ctx context.Context, d *Dataset, y int) (time.Time, bool, error) {
	years, err := ix.listYears(ctx, d)
	if err != nil {
		return time.Time{}, false, err
	}
	return ix.nextStartIn(ctx, d, years, y)
}

// nextStartIn is nextStart among the year files listed in years.
func (ix *Indexer) nextStartIn(ctx context.Context, d *Dataset, years []int, y int) (time.Time, bool, error) {
	for _, z := range years {
		if z <= y {
			continue
		}
		r, ok, err := ix.edgeRow(ctx, d, z, true)
		if err != nil {
			return time.Time{}, false, err
		}
		if ok {
			return r.Start, true, nil
		}
	}
	return time.Time{}, false, nil
}

// prevNonEmpty returns the last year before y that has rows, among the
// year files listed in years.
func (ix *Indexer) prevNonEmpty(ctx context.Context, d *Dataset, years []int, y int) (int, bool, error) {
	for i := len(years) - 1; i >= 0; i-- {
		if years[i] >= y {
			continue
		}
		_, ok, err := ix.edgeRow(ctx, d, years[i], true)
		if err != nil {
			return 0, false, err
		}
		if ok {
			return years[i], true, nil
		}
	}
	return 0, false, nil
}

// edgeChunk is how much of a year file is read to find its first or last
// row without downloading all of it (a year of SDO AIA is about 15 MB).
const edgeChunk = 16 << 10

// edgeRow returns the first (or last) row of a year file, reading only its
// head (or tail) when it can.
func (ix *Indexer) edgeRow(ctx context.Context, d *Dataset, y int, first bool) (catalog.Row, bool, error) {
	key := d.IndexKey(y)
	rng := fmt.Sprintf("bytes=0-%d", edgeChunk-1)
	if !first {
		rng = fmt.Sprintf("bytes=-%d", edgeChunk)
	}
	data, whole, err := ix.store().getRange(ctx, d.Bucket, key, rng)
	if errors.Is(err, catalog.ErrNotFound) {
		return catalog.Row{}, false, nil
	}
	if err != nil {
		return catalog.Row{}, false, err
	}
	var text []byte
	if whole {
		text = data
	} else if line, ok := edgeLine(data, first); ok {
		text = append([]byte(catalog.Header+"\n"), line...)
	} else {
		if data, _, err = ix.store().get(ctx, d.Bucket, key); err != nil {
			return catalog.Row{}, false, err
		}
		text = data
	}
	rows, _, err := catalog.ReadIndex(text)
	if err != nil {
		return catalog.Row{}, false, fmt.Errorf("s3://%s/%s: %w", d.Bucket, key, err)
	}
	if len(rows) == 0 {
		return catalog.Row{}, false, nil
	}
	if first {
		return rows[0], true, nil
	}
	return rows[len(rows)-1], true, nil
}

// edgeLine cuts the first data line (after the header) or the last line out
// of a partial read, and false if the chunk does not hold a whole line.
func edgeLine(chunk []byte, first bool) ([]byte, bool) {
	if first {
		h := bytes.IndexByte(chunk, '\n')
		if h < 0 {
			return nil, false
		}
		rest := chunk[h+1:]
		e := bytes.IndexByte(rest, '\n')
		if e < 0 {
			return nil, false
		}
		return rest[:e+1], true
	}
	body := bytes.TrimSuffix(chunk, []byte("\n"))
	s := bytes.LastIndexByte(body, '\n')
	if s < 0 {
		return nil, false
	}
	return append(body[s+1:], '\n'), true
}

// extent is what catalog.json says of a dataset, as its index files say it.
type extent struct {
	start, stop time.Time
	// nonEmpty is false when no year file has a row.
	nonEmpty bool
	// multiYear is set when a row covers time after its start year.
	multiYear bool
	// years are the years that have files, ascending.
	years []int
}

func (a extent) equal(b extent) bool {
	return a.nonEmpty == b.nonEmpty && a.multiYear == b.multiYear && a.start.Equal(b.start) && a.stop.Equal(b.stop)
}

// extent reads the dataset's span from the first row of its first non-empty
// year file and the last row of every year file. A year's last row is the
// one that reaches furthest: with a fixed duration stops grow with starts,
// and otherwise every other row stops at the next start in the same year.
// So the last rows alone tell whether any row crosses into a later year.
func (ix *Indexer) extent(ctx context.Context, d *Dataset) (extent, error) {
	var x extent
	var err error
	if x.years, err = ix.listYears(ctx, d); err != nil {
		return x, err
	}
	last := make([]catalog.Row, len(x.years))
	found := make([]bool, len(x.years))
	err = parallel(ctx, len(x.years), 8, func(ctx context.Context, i int) error {
		var err error
		last[i], found[i], err = ix.edgeRow(ctx, d, x.years[i], false)
		return err
	})
	if err != nil {
		return x, err
	}
	first := -1
	for i := range x.years {
		if !found[i] {
			continue
		}
		if first < 0 {
			first = i
		}
		x.stop = last[i].Stop
		x.multiYear = x.multiYear || last[i].CrossesYear()
	}
	if first < 0 {
		return x, nil
	}
	r, ok, err := ix.edgeRow(ctx, d, x.years[first], true)
	if err != nil || !ok {
		// The file lost its rows between the two reads: the caller's
		// re-check after its write sees the new state.
		return x, err
	}
	x.start, x.nonEmpty = r.Start, true
	return x, nil
}

// reconcile makes catalog.json describe the dataset as its index files do:
// start, stop, modification (set to now when indexChanged or the span
// moved), and writes a header-only file for every year of the span without
// one, before the catalog advertises that span.
func (ix *Indexer) reconcile(ctx context.Context, d *Dataset, indexChanged bool) ([]string, error) {
	var written []string
	err := ix.update(ctx, d.Bucket, catalog.FileName, func(data []byte, etag string, exists bool) (bool, error) {
		cat := &catalog.Catalog{}
		if exists {
			var err error
			if cat, err = catalog.Parse(data); err != nil {
				return false, fmt.Errorf("s3://%s/%s: %w", d.Bucket, catalog.FileName, err)
			}
		}
		x, err := ix.extent(ctx, d)
		if err != nil {
			return false, err
		}
		if x.nonEmpty {
			w, err := ix.fillYears(ctx, d, x.start.Year(), x.stop.Year(), x.years)
			written = append(written, w...)
			if err != nil {
				return false, err
			}
		}
		ix.describe(cat, d, x, indexChanged)
		out, err := cat.Marshal()
		if err != nil {
			return false, err
		}
		if exists && bytes.Equal(out, data) {
			return true, nil
		}
		if err := ix.store().put(ctx, d.Bucket, catalog.FileName, out, "application/json", true, etag); err != nil {
			return false, err
		}
		written = append(written, d.DataKey(catalog.FileName))
		x2, err := ix.extent(ctx, d)
		return x2.equal(x), err
	})
	return written, err
}

// fillYears writes a header-only file for each year in [from, to] that has
// none, since anonymous readers get 403 (which breaks the client) rather
// than 404 for a missing year.
func (ix *Indexer) fillYears(ctx context.Context, d *Dataset, from, to int, have []int) ([]string, error) {
	got := map[int]bool{}
	for _, y := range have {
		got[y] = true
	}
	header := catalog.AppendIndex(nil, nil, d.Format())
	var written []string
	for y := from; y <= to; y++ {
		if got[y] {
			continue
		}
		err := ix.store().put(ctx, d.Bucket, d.IndexKey(y), header, "text/csv", true, "")
		if errors.Is(err, errConflict) {
			continue
		}
		if err != nil {
			return written, err
		}
		written = append(written, d.DataKey(d.IndexKey(y)))
	}
	return written, nil
}

// describe sets the catalog's top level from the bucket's CatalogInfo and
// the dataset's entry from its spec and span; an empty dataset has no entry
// because the client cannot read an entry without times.
func (ix *Indexer) describe(cat *catalog.Catalog, d *Dataset, x extent, indexChanged bool) {
	info := ix.Config.Catalogs[d.Bucket]
	cat.Version = catalog.Version
	cat.Name, cat.Contact, cat.Egress = info.Name, info.Contact, info.Egress
	cat.Description, cat.Citation = info.Description, info.Citation
	cat.Status = catalog.OK
	i := cat.Find(d.ID)
	if !x.nonEmpty {
		if i >= 0 {
			cat.Catalog = append(cat.Catalog[:i], cat.Catalog[i+1:]...)
		}
		return
	}
	f := d.Format()
	e := catalog.Entry{
		ID: d.ID, Index: d.IndexURI(), Title: d.Title,
		Start: f.Format(x.start), Stop: f.Format(x.stop), MultiYear: x.multiYear,
		IndexType: "csv", FileType: d.FileType,
		Description: d.Description, Resource: d.Resource, Citation: d.Citation,
		Contact: d.Contact, About: d.About, Tags: d.Tags, Collections: d.Collections,
	}
	if i >= 0 {
		old := cat.Catalog[i]
		e.Modification, e.Creation = old.Modification, old.Creation
		e.Expiration, e.Verified = old.Expiration, old.Verified
		if indexChanged || old.Start != e.Start || old.Stop != e.Stop || e.Modification == "" {
			e.Modification = catalog.Seconds.Format(ix.now())
		}
		cat.Catalog[i] = e
	} else {
		e.Modification = catalog.Seconds.Format(ix.now())
		cat.Catalog = append(cat.Catalog, e)
	}
	sort.SliceStable(cat.Catalog, func(a, b int) bool { return cat.Catalog[a].ID < cat.Catalog[b].ID })
}

// ParseS3URI splits s3://bucket/prefix.
func ParseS3URI(uri string) (bucket, key string, err error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("%q is not an s3://bucket/key URI", uri)
	}
	return u.Host, strings.TrimPrefix(u.Path, "/"), nil
}
