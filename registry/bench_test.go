package registry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
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
