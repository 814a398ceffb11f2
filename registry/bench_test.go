package registry

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heliocloud/heliocloud-go/registry/s3test"
)

// benchObjects is the size of one year of SDO AIA 94 A in the public archive.
const benchObjects = 129758

var (
	benchOnce sync.Once
	benchFix  *fixture
)

// benchDataset lays out benchObjects sparse files (14 MB each, as AIA's) in
// the server's posix root: one every 15 minutes from 2010-05-13, which spans
// 2010..2014 in day folders.
func benchDataset(b *testing.B) *fixture {
	benchOnce.Do(func() {
		f := newFixture(b)
		root := filepath.Join(s3test.Dir(b), f.bucket)
		t0 := ts("2010-05-13T00:00:02Z")
		for i := 0; i < benchObjects; i++ {
			t := t0.Add(time.Duration(i) * 15 * time.Minute)
			p := filepath.Join(root, filepath.FromSlash(aiaKey(t)))
			if i%96 == 0 {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			fh, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			if err := fh.Truncate(14_000_000 + int64(i%1000)); err != nil {
				b.Fatal(err)
			}
			fh.Close()
		}
		benchFix = f
	})
	if benchFix == nil {
		b.Fatal("dataset setup failed")
	}
	benchFix.t = b
	return benchFix
}

// peakRSS resets the kernel's high-water mark of this process's resident
// memory (clear_refs 5) and returns a func reading it in MB.
func peakRSS(b *testing.B) func() float64 {
	runtime.GC()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset peak RSS: %v", err)
	}
	return func() float64 {
		fh, err := os.Open("/proc/self/status")
		if err != nil {
			return -1
		}
		defer fh.Close()
		s := bufio.NewScanner(fh)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				return kb / 1024
			}
		}
		return -1
	}
}

func (f *fixture) bareListing(b *testing.B) time.Duration {
	start := time.Now()
	var n int
	err := store{f.c}.list(context.Background(), f.bucket, "sdo/aia/0094/", func(page []object) error {
		n += len(page)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if n != benchObjects {
		b.Fatalf("listed %d objects, want %d", n, benchObjects)
	}
	return time.Since(start)
}

// BenchmarkListing is the floor: listing the dataset prefix and nothing else.
func BenchmarkListing(b *testing.B) {
	f := benchDataset(b)
	b.ResetTimer()
	for range b.N {
		f.bareListing(b)
	}
	b.ReportMetric(float64(benchObjects*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkReindex rebuilds the index of the whole dataset from a listing.
// Each iteration also times a bare listing (outside the benchmark timer) to
// report the ratio to the floor.
func BenchmarkReindex(b *testing.B) {
	f := benchDataset(b)
	ix := f.indexer()
	var listing, reindex time.Duration
	var peak float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		listing += f.bareListing(b)
		read := peakRSS(b)
		b.StartTimer()
		start := time.Now()
		res, err := ix.Reindex(context.Background(), &f.cfg.Datasets[0])
		reindex += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if res.Objects != benchObjects {
			b.Fatalf("indexed %d objects", res.Objects)
		}
		peak = max(peak, read())
	}
	b.ReportMetric(float64(benchObjects*b.N)/reindex.Seconds(), "objects/s")
	b.ReportMetric(reindex.Seconds()/listing.Seconds(), "x-listing")
	b.ReportMetric(peak, "peak-RSS-MB")
}

var benchSeq atomic.Int64

// BenchmarkIncrementalBatch100 applies one SQS-sized batch of 100 new objects
// inside 2012, a full year file of the indexed dataset (35,136 rows, 4 MB),
// so that each batch rewrites it and settles 2011 before it.
func BenchmarkIncrementalBatch100(b *testing.B) {
	f := benchDataset(b)
	ix := f.indexer()
	if _, err := ix.Reindex(context.Background(), &f.cfg.Datasets[0]); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		events := make([]Event, 100)
		for i := range events {
			// Seconds 3..52 of a quarter hour: never an existing key (:02).
			n := benchSeq.Add(1)
			t := ts("2012-06-01T00:00:00Z").Add(time.Duration(n/50)*15*time.Minute + time.Duration(n%50+3)*time.Second)
			k := aiaKey(t)
			f.put(k, 1000)
			events[i] = Event{Bucket: f.bucket, Key: k}
		}
		b.StartTimer()
		res := ix.Apply(context.Background(), events)
		if err := errors.Join(res.Errors...); err != nil {
			b.Fatal(err)
		}
		if len(res.Written) == 0 {
			b.Fatal(fmt.Sprint("nothing written: ", res.Skipped))
		}
	}
}

// inventoryBench is a dataset known only from an S3 Inventory report: n
// objects spread evenly over 15 years from 2010 (one every 15 years / n), in
// gzipped CSV files of at most a million rows each, in key order as S3
// writes them. The report is laid out in the server's posix root, so that
// making it costs neither the server nor this process's memory.
type inventoryBench struct {
	f        *fixture
	manifest string
}

var (
	invMu    sync.Mutex
	invBench = map[int]*inventoryBench{}
)

func benchInventory(b *testing.B, n int) *inventoryBench {
	invMu.Lock()
	defer invMu.Unlock()
	if ib := invBench[n]; ib != nil {
		ib.f.t = b
		return ib
	}
	f := newFixture(b)
	inv := s3test.Bucket(b, f.c, "inventory")
	root := filepath.Join(s3test.Dir(b), inv)
	t0 := ts("2010-01-01T00:00:00Z")
	step := ts("2025-01-01T00:00:00Z").Sub(t0) / time.Duration(n)
	step = step.Truncate(time.Second)
	const perFile = 1_000_000
	var files []string
	for first := 0; first < n; first += perFile {
		name := fmt.Sprintf("data/part-%03d.csv.gz", len(files))
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		fh, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		bw := bufio.NewWriterSize(fh, 1<<20)
		zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
		var line []byte
		for i := first; i < min(first+perFile, n); i++ {
			line = append(line[:0], '"')
			line = append(line, f.bucket...)
			line = append(line, `","`...)
			line = append(line, url.QueryEscape(aiaKey(t0.Add(time.Duration(i)*step)))...)
			line = append(line, `","`...)
			line = strconv.AppendInt(line, 14_000_000+int64(i%1000), 10)
			line = append(line, "\"\n"...)
			zw.Write(line)
		}
		if err := errors.Join(zw.Close(), bw.Flush(), fh.Close()); err != nil {
			b.Fatal(err)
		}
		files = append(files, fmt.Sprintf(`{"key": %q}`, name))
	}
	manifest := fmt.Sprintf(`{"sourceBucket": %q, "destinationBucket": "arn:aws:s3:::%s", "fileFormat": "CSV",
 "fileSchema": "Bucket, Key, Size", "files": [%s]}`, f.bucket, inv, strings.Join(files, ", "))
	if err := os.WriteFile(filepath.Join(root, "manifest.json"), []byte(manifest), 0o644); err != nil {
		b.Fatal(err)
	}
	ib := &inventoryBench{f: f, manifest: "s3://" + inv + "/manifest.json"}
	invBench[n] = ib
	return ib
}

// benchReindexInventory rebuilds the index from the report. The first
// iteration writes the 15 year files; later ones merge with them (every key
// agrees, so nothing is asked of S3 and nothing is written), which is the
// repair of an existing index.
func benchReindexInventory(b *testing.B, n int) {
	ib := benchInventory(b, n)
	ix := ib.f.indexer()
	var peak float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		read := peakRSS(b)
		b.StartTimer()
		res, err := ix.ReindexInventory(context.Background(), &ib.f.cfg.Datasets[0], ib.manifest)
		if err != nil {
			b.Fatal(err)
		}
		if res.Objects != int64(n) {
			b.Fatalf("indexed %d objects, want %d", res.Objects, n)
		}
		peak = max(peak, read())
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(peak, "peak-RSS-MB")
}

func BenchmarkReindexInventory1M(b *testing.B) { benchReindexInventory(b, 1_000_000) }
func BenchmarkReindexInventory5M(b *testing.B) { benchReindexInventory(b, 5_000_000) }
