package registry

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/heliocloud/heliocloud-go/catalog"
)

// A rebuild sorts rows by year: each row goes to the year of its start as it
// is read, and each year is loaded, sorted and written on its own, so that
// memory follows the largest year rather than the whole dataset (a 300 TB
// archive can hold tens of millions of files). Rows are kept as compact
// records, in memory until they pass spillBytes in total and then appended
// to one scratch file per year.

// defaultSpillBytes is how many bytes of records a rebuild holds in memory
// before it moves them to scratch files: small datasets never touch the disk.
const defaultSpillBytes = 32 << 20

// entry is one row of a loaded year: its start in Unix milliseconds (the
// finest index time format), its size, and its full data key. 32 bytes, a
// third of a catalog.Row, whose stop is derived from the next entry.
type entry struct {
	start int64
	size  int64
	key   string
}

func compareEntries(a, b entry) int {
	if c := cmp.Compare(a.start, b.start); c != 0 {
		return c
	}
	return strings.Compare(a.key, b.key)
}

func (e entry) startTime() time.Time { return time.UnixMilli(e.start).UTC() }

// spillYear holds one year's records: start (varint), size and key length
// (uvarints) and the key relative to the dataset prefix.
type spillYear struct {
	buf      []byte
	spilled  bool
	rows     int
	keyBytes int
	// first and last are the earliest and latest start, for the stop of the
	// previous year's last row and the span.
	first, last int64
}

// spill gathers a rebuild's rows by year.
type spill struct {
	d      *Dataset
	budget int
	held   int
	dir    string
	years  map[int]*spillYear
}

func newSpill(d *Dataset, budget int) *spill {
	if budget <= 0 {
		budget = defaultSpillBytes
	}
	return &spill{d: d, budget: budget, years: map[int]*spillYear{}}
}

// add records a row; key is the full object key, under the dataset prefix.
func (s *spill) add(start time.Time, key string, size int64) error {
	y := start.UTC().Year()
	sy := s.years[y]
	ms := start.UnixMilli()
	if sy == nil {
		sy = &spillYear{first: ms, last: ms}
		s.years[y] = sy
	}
	rel := strings.TrimPrefix(key, s.d.Prefix)
	n := len(sy.buf)
	sy.buf = binary.AppendVarint(sy.buf, ms)
	sy.buf = binary.AppendUvarint(sy.buf, uint64(size))
	sy.buf = binary.AppendUvarint(sy.buf, uint64(len(rel)))
	sy.buf = append(sy.buf, rel...)
	s.held += len(sy.buf) - n
	sy.rows++
	sy.keyBytes += len(rel)
	sy.first, sy.last = min(sy.first, ms), max(sy.last, ms)
	if s.held > s.budget {
		return s.flush()
	}
	return nil
}

func (s *spill) path(y int) string { return filepath.Join(s.dir, fmt.Sprintf("%04d", y)) }

// flush appends every year's records held in memory to its scratch file.
func (s *spill) flush() error {
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "heliocloud-reindex-")
		if err != nil {
			return fmt.Errorf("reindex scratch space: %w", err)
		}
		s.dir = dir
	}
	for y, sy := range s.years {
		if len(sy.buf) == 0 {
			continue
		}
		fh, err := os.OpenFile(s.path(y), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("reindex scratch space: %w", err)
		}
		_, err = fh.Write(sy.buf)
		if err := errors.Join(err, fh.Close()); err != nil {
			return fmt.Errorf("reindex scratch space: %w", err)
		}
		sy.spilled = true
		// A year that spilled once keeps spilling: keep its buffer only
		// while it is small, so that idle years do not pin memory.
		if cap(sy.buf) > 1<<20 {
			sy.buf = nil
		} else {
			sy.buf = sy.buf[:0]
		}
	}
	s.held = 0
	return nil
}

// close removes the scratch files.
func (s *spill) close() {
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// objects counts the rows added.
func (s *spill) objects() int64 {
	var n int64
	for _, sy := range s.years {
		n += int64(sy.rows)
	}
	return n
}

// load returns year y's rows sorted by start, then key (the one sort each
// row gets), with full data keys sharing one string.
func (s *spill) load(y int) ([]entry, error) {
	sy := s.years[y]
	if sy == nil {
		return nil, nil
	}
	var r io.Reader = bytes.NewReader(sy.buf)
	if sy.spilled {
		fh, err := os.Open(s.path(y))
		if err != nil {
			return nil, fmt.Errorf("reindex scratch space: %w", err)
		}
		defer fh.Close()
		r = io.MultiReader(fh, bytes.NewReader(sy.buf))
	}
	br := bufio.NewReaderSize(r, 1<<16)
	prefix := s.d.DataKey(s.d.Prefix)
	var sb strings.Builder
	sb.Grow(sy.rows*len(prefix) + sy.keyBytes)
	es := make([]entry, sy.rows)
	lens := make([]int32, sy.rows)
	var rel []byte
	for i := range es {
		start, err := binary.ReadVarint(br)
		if err != nil {
			return nil, fmt.Errorf("reindex scratch space: year %d row %d: %w", y, i, err)
		}
		size, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("reindex scratch space: year %d row %d: %w", y, i, err)
		}
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("reindex scratch space: year %d row %d: %w", y, i, err)
		}
		rel = slices.Grow(rel[:0], int(n))[:n]
		if _, err := io.ReadFull(br, rel); err != nil {
			return nil, fmt.Errorf("reindex scratch space: year %d row %d: %w", y, i, err)
		}
		sb.WriteString(prefix)
		sb.Write(rel)
		es[i] = entry{start: start, size: int64(size)}
		lens[i] = int32(len(prefix) + int(n))
	}
	blob, off := sb.String(), 0
	for i := range es {
		es[i].key = blob[off : off+int(lens[i])]
		off += int(lens[i])
	}
	slices.SortFunc(es, compareEntries)
	// A key listed twice (an inventory can) gets one row.
	return slices.CompactFunc(es, func(a, b entry) bool { return a.key == b.key }), nil
}

// renderYear renders a year file of sorted entries to w; next is the first
// start after them (hasNext false: none), for the last row's stop.
func renderYear(d *Dataset, w io.Writer, es []entry, next time.Time, hasNext bool) error {
	f := d.Format()
	buf := catalog.AppendIndex(make([]byte, 0, 64<<10), nil, f)
	for i, e := range es {
		after, has := next, hasNext
		if i+1 < len(es) {
			after, has = es[i+1].startTime(), true
		}
		start := e.startTime()
		buf = catalog.AppendRow(buf, catalog.Row{Start: start, Stop: stopOf(d, start, after, has), Key: e.key, Size: e.size}, f)
		if len(buf) > 60<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// digest tells two versions of a file apart without holding both.
type digest struct {
	size int64
	sum  [sha256.Size]byte
}

func digestOf(data []byte) digest { return digest{int64(len(data)), sha256.Sum256(data)} }

// digestWriter computes the digest of what is written to it.
type digestWriter struct {
	h    hash.Hash
	size int64
}

func newDigestWriter() *digestWriter { return &digestWriter{h: sha256.New()} }

func (w *digestWriter) Write(p []byte) (int, error) {
	w.size += int64(len(p))
	return w.h.Write(p)
}

func (w *digestWriter) digest() digest {
	d := digest{size: w.size}
	w.h.Sum(d.sum[:0])
	return d
}

// scratchFile is a rendered file on disk, ready to be uploaded.
type scratchFile struct {
	f *os.File
	digest
}

// renderScratch writes what render writes to a new scratch file, and
// returns it rewound.
func renderScratch(render func(w io.Writer) error) (*scratchFile, error) {
	f, err := os.CreateTemp("", "heliocloud-year-")
	if err != nil {
		return nil, fmt.Errorf("scratch file: %w", err)
	}
	out := &scratchFile{f: f}
	dw := newDigestWriter()
	bw := bufio.NewWriterSize(io.MultiWriter(f, dw), 1<<16)
	err = render(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		out.close()
		return nil, fmt.Errorf("scratch file: %w", err)
	}
	out.digest = dw.digest()
	return out, nil
}

func (s *scratchFile) close() {
	s.f.Close()
	os.Remove(s.f.Name())
}
