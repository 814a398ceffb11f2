// Command gen writes config/fielddocs_gen.go; run it with `go generate ./config`.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/heliocloud/heliocloud-go/config/internal/fielddocs"
)

func main() {
	src, err := fielddocs.Generate(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fielddocs:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(filepath.Join(".", "fielddocs_gen.go"), src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "fielddocs:", err)
		os.Exit(1)
	}
}
