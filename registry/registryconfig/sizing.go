package registryconfig

// The memory a rebuild needs, from BenchmarkReindexInventory1M and 5M (see
// docs/performance.md): the peak resident memory of the process grew by
// about 310 bytes per file of the largest year between 67,000 and 333,000
// files a year, from about 65 MB. The rule below adds a margin for keys
// longer than the benchmark's 75 bytes (a key is held once, beside a 32-byte
// entry, and the garbage collector lets the heap reach twice what is live)
// and for a Lambda function's own overhead.
const (
	// RebuildBaseMiB covers the runtime, the S3 client and the buffers of a
	// rebuild, whatever its size.
	RebuildBaseMiB = 128
	// RebuildBytesPerObject is the memory per file of the largest year.
	RebuildBytesPerObject = 400
)

// RebuildMemoryMiB is the memory a rebuild of a dataset needs whose busiest
// year holds largestYear files.
func RebuildMemoryMiB(largestYear int) int {
	return RebuildBaseMiB + (largestYear*RebuildBytesPerObject+(1<<20)-1)>>20
}
