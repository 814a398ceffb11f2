package catalog

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Header is the first line of every index file. The client always treats the
// first line as a header, so a file without one would lose its first row.
const Header = "#start,stop,datakey,filesize"

// TimeFormat is one of the time layouts the client can parse. A dataset uses
// one format in all its files: the client fails on mixed formats.
type TimeFormat string

// The formats the client accepts (it parses only ...SS.fffZ, ...SSZ, ...MMZ).
const (
	Seconds      TimeFormat = "2006-01-02T15:04:05Z"
	Milliseconds TimeFormat = "2006-01-02T15:04:05.000Z"
	Minutes      TimeFormat = "2006-01-02T15:04Z"
)

// Format renders t in UTC.
func (f TimeFormat) Format(t time.Time) string { return t.UTC().Format(string(f)) }

// Parse reads a time written in exactly this format.
func (f TimeFormat) Parse(s string) (time.Time, error) {
	if !strings.HasSuffix(s, "Z") {
		return time.Time{}, fmt.Errorf("time %q does not end in Z", s)
	}
	// time.Parse accepts fractional seconds the layout does not have; the
	// client does not, within one dataset.
	if len(s) != len(f) {
		return time.Time{}, fmt.Errorf("time %q is not in the form %s", s, f)
	}
	return time.Parse(string(f), s)
}

// DetectFormat returns the client format that s is written in.
func DetectFormat(s string) (TimeFormat, error) {
	for _, f := range []TimeFormat{Seconds, Milliseconds, Minutes} {
		if len(s) == len(f) {
			if _, err := f.Parse(s); err == nil {
				return f, nil
			}
		}
	}
	return "", fmt.Errorf("time %q is not in a format the client reads (YYYY-MM-DDTHH:MM:SSZ, ...SS.fffZ or ...MMZ)", s)
}

// Row is one line of an index file: a data file and the time span it covers.
type Row struct {
	Start time.Time
	Stop  time.Time
	// Key is the full object URI, s3://bucket/key.
	Key  string
	Size int64
}

// CrossesYear reports whether the row covers time in a year after the year
// of its start. Such a row is indexed under its start year only, so a reader
// that fetches the files of the years it asks for misses it unless the entry
// says multiyear. A stop at the first instant of the next year (a daily
// file, a file followed by one starting at midnight on 1 January) covers
// nothing of that year.
func (r Row) CrossesYear() bool {
	return r.Stop.After(time.Date(r.Start.UTC().Year()+1, 1, 1, 0, 0, 0, 0, time.UTC))
}

// SortRows orders rows by start time; equal starts are ordered by key so that
// the same rows always give the same bytes.
func SortRows(rows []Row) {
	sort.Slice(rows, func(i, j int) bool { return rowLess(rows[i], rows[j]) })
}

func rowLess(a, b Row) bool {
	if !a.Start.Equal(b.Start) {
		return a.Start.Before(b.Start)
	}
	return a.Key < b.Key
}

// IndexName is the object name of a dataset's index file for one year,
// relative to the index prefix.
func IndexName(id string, year int) string { return fmt.Sprintf("%s_%04d.csv", id, year) }

// ParseIndexName returns the year of an index file name of dataset id, and
// false if name is not one (another dataset sharing the prefix, say).
func ParseIndexName(id, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, id+"_")
	if !ok || len(rest) != len("2006.csv") || !strings.HasSuffix(rest, ".csv") {
		return 0, false
	}
	y, err := strconv.Atoi(rest[:4])
	if err != nil || rest[0] < '0' || rest[0] > '9' {
		return 0, false
	}
	return y, true
}

// AppendIndex renders an index file (header and rows, LF endings) onto dst.
// Rows must already be sorted.
func AppendIndex(dst []byte, rows []Row, f TimeFormat) []byte {
	dst = append(dst, Header...)
	dst = append(dst, '\n')
	for _, r := range rows {
		dst = AppendRow(dst, r, f)
	}
	return dst
}

// AppendRow appends one row's line, as AppendIndex writes it, to dst.
func AppendRow(dst []byte, r Row, f TimeFormat) []byte {
	dst = r.Start.UTC().AppendFormat(dst, string(f))
	dst = append(dst, ',')
	dst = r.Stop.UTC().AppendFormat(dst, string(f))
	dst = append(dst, ',')
	dst = appendField(dst, r.Key)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, r.Size, 10)
	return append(dst, '\n')
}

// appendField quotes a field only when it needs RFC 4180 quoting, since the
// client reads plain comma-separated values.
func appendField(dst []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\n\r") {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	dst = append(dst, strings.ReplaceAll(s, `"`, `""`)...)
	return append(dst, '"')
}

// ErrNoHeader is returned for an index file whose first line is not a header.
var ErrNoHeader = errors.New("first line is not a start,stop,datakey,filesize header")

var errCR = errors.New("CR line ending: the client needs LF")

// crFinder notes a carriage return in what it reads, which the CSV reader
// would drop silently.
type crFinder struct {
	r     io.Reader
	found bool
}

func (c *crFinder) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if bytes.IndexByte(p[:n], '\r') >= 0 {
		c.found = true
	}
	return n, err
}

// ReadIndex parses an index file. It requires the header line, four leading
// columns, Z times in one client format and rows sorted by start; the format
// is returned ("" for a header-only file).
func ReadIndex(data []byte) ([]Row, TimeFormat, error) {
	if bytes.Contains(data, []byte("\r")) {
		return nil, "", errCR
	}
	var rows []Row
	format, err := ScanIndex(bytes.NewReader(data), func(r Row) { rows = append(rows, r) })
	if err != nil {
		return nil, "", err
	}
	return rows, format, nil
}

// ScanIndex reads an index file as ReadIndex does, from a stream, handing
// each row to fn instead of keeping them: a rebuild merges a year file of
// millions of rows without holding it. Rows before an error have been handed
// over; a carriage return anywhere fails the file once it is read.
func ScanIndex(in io.Reader, fn func(Row)) (format TimeFormat, err error) {
	cr := &crFinder{r: in}
	defer func() {
		if cr.found {
			format, err = "", errCR
		}
	}()
	r := csv.NewReader(cr)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err == io.EOF {
		return "", ErrNoHeader
	}
	if err != nil {
		return "", fmt.Errorf("line 1: %w", err)
	}
	if len(head) < 4 || strings.TrimPrefix(head[0], "#") != "start" || head[1] != "stop" || head[2] != "datakey" || head[3] != "filesize" {
		return "", ErrNoHeader
	}
	var prev time.Time
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) < 4 {
			return "", fmt.Errorf("line %d: %d columns, need start,stop,datakey,filesize", line, len(rec))
		}
		if format == "" {
			if format, err = DetectFormat(rec[0]); err != nil {
				return "", fmt.Errorf("line %d: %w", line, err)
			}
		}
		var row Row
		if row.Start, err = format.Parse(rec[0]); err != nil {
			return "", fmt.Errorf("line %d: start: %w (dataset format %s)", line, err, format)
		}
		if row.Stop, err = format.Parse(rec[1]); err != nil {
			return "", fmt.Errorf("line %d: stop: %w (dataset format %s)", line, err, format)
		}
		if row.Stop.Before(row.Start) {
			return "", fmt.Errorf("line %d: stop %s before start %s", line, rec[1], rec[0])
		}
		row.Key = rec[2]
		if row.Size, err = strconv.ParseInt(rec[3], 10, 64); err != nil || row.Size < 0 {
			return "", fmt.Errorf("line %d: filesize %q is not a count of bytes", line, rec[3])
		}
		if line > 2 && row.Start.Before(prev) {
			return "", fmt.Errorf("line %d: rows not sorted by start", line)
		}
		prev = row.Start
		fn(row)
	}
	return format, nil
}
