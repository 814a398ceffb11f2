// Package catalog reads and writes the CloudCatalog format (specification
// 1.1): the catalog.json file at a bucket's root and the per-year index CSV
// files of each dataset. It writes only the shape that the official
// cloudcatalog client can read, which is stricter than the text of the
// specification (see docs/registry.md).
package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Version is the specification version written into catalog.json. The client
// parses it as a float; below 0.5 it switches to the legacy 3-column format.
const Version = "1.1"

// FileName is the name of the catalog file at the root of a published bucket.
const FileName = "catalog.json"

// StatusOK is the status code of a catalog that serves requests (the client
// also knows 1400, temporarily unavailable, which the registry never writes).
const StatusOK = 1200

// Status is the catalog's availability. The client requires an object with an
// integer code; a plain string makes it raise.
type Status struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// OK is the status of a catalog that serves requests.
var OK = Status{Code: StatusOK, Message: "OK request successful"}

// Catalog is the content of catalog.json.
type Catalog struct {
	Version     string  `json:"version"`
	Name        string  `json:"name"`
	Contact     string  `json:"contact"`
	Egress      string  `json:"egress"`
	Status      Status  `json:"status"`
	Description string  `json:"description,omitempty"`
	Citation    string  `json:"citation,omitempty"`
	Comment     string  `json:"comment,omitempty"`
	Catalog     []Entry `json:"catalog"`
}

// Entry describes one dataset of a catalog.
type Entry struct {
	ID           string   `json:"id"`
	Index        string   `json:"index"`
	Title        string   `json:"title"`
	Start        string   `json:"start"`
	Stop         string   `json:"stop"`
	Modification string   `json:"modification"`
	IndexType    string   `json:"indextype"`
	FileType     string   `json:"filetype"`
	Description  string   `json:"description,omitempty"`
	Resource     string   `json:"resource,omitempty"`
	Creation     string   `json:"creation,omitempty"`
	Expiration   string   `json:"expiration,omitempty"`
	Verified     string   `json:"verified,omitempty"`
	Citation     string   `json:"citation,omitempty"`
	Contact      string   `json:"contact,omitempty"`
	About        string   `json:"about,omitempty"`
	MultiYear    bool     `json:"multiyear,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	Collections  []string `json:"collections,omitempty"`
}

// FileTypes are the filetype values the specification allows.
var FileTypes = []string{"fits", "csv", "cdf", "netcdf3", "netcdf4", "hdf5", "datamap", "txt", "binary", "other"}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidID reports whether id uses only the characters the specification
// allows (letters, digits, '-' and '_').
func ValidID(id string) bool { return idPattern.MatchString(id) }

// ValidFileType reports whether ft is a comma-separated list of allowed
// filetypes without spaces.
func ValidFileType(ft string) bool {
	if ft == "" {
		return false
	}
	for _, p := range strings.Split(ft, ",") {
		if !slices.Contains(FileTypes, p) {
			return false
		}
	}
	return true
}

// Find returns the index of the entry with the given id, or -1.
func (c *Catalog) Find(id string) int {
	for i := range c.Catalog {
		if c.Catalog[i].ID == id {
			return i
		}
	}
	return -1
}

// Marshal encodes the catalog with stable indentation and a trailing newline
// so that unchanged content gives unchanged bytes (and ETags).
func (c *Catalog) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Parse decodes catalog.json leniently enough to keep entries written by
// other tools, but rejects what the client would reject.
func Parse(data []byte) (*Catalog, error) {
	var c Catalog
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("catalog.json: %w", err)
	}
	if _, err := strconv.ParseFloat(c.Version, 64); err != nil {
		return nil, fmt.Errorf("catalog.json: version %q is not a number", c.Version)
	}
	return &c, nil
}
