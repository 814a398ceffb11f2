package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/heliocloud/heliocloud-go/catalog"
	"github.com/heliocloud/heliocloud-go/registry"
)

func init() {
	commands["registry"] = command{"rebuild dataset indexes, ingest uploads, check published catalogs", runRegistry}
}

const registryUsage = `usage:
  heliocloud registry reindex --config <instance> (--dataset <id> | --all) [--inventory s3://.../manifest.json] [--endpoint-url URL]
  heliocloud registry ingest  --config <instance> --source s3://bucket/prefix/ [--endpoint-url URL]
  heliocloud registry check   --config <instance> [--endpoint-url URL]

reindex rebuilds a dataset's <id>_<YYYY>.csv files and its catalog.json entry from a full
listing of its prefix (or from an S3 Inventory report); ingest checks an upload (entries.json,
<id>/manifest.csv, the files), writes report.json beside it, and copies and indexes it only when
nothing is wrong; check reads every catalog the way the official cloudcatalog client does, and
also flags an entry whose files reach into a later year without "multiyear": true.
Credentials come from the usual AWS sources (environment, profile, SSO). --endpoint-url points
at any S3-compatible server, with path-style addressing.
`

// runRegistry is the `heliocloud registry` command.
func runRegistry(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, registryUsage)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("registry "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, registryUsage) }
	cfgArg := fs.String("config", "", "instance name or path of its YAML file")
	endpoint := fs.String("endpoint-url", "", "S3-compatible endpoint (path-style addressing)")
	dataset := fs.String("dataset", "", "dataset id (reindex)")
	all := fs.Bool("all", false, "every dataset (reindex)")
	inventory := fs.String("inventory", "", "s3:// URI of an S3 Inventory manifest.json (reindex)")
	source := fs.String("source", "", "s3://bucket/prefix/ of an upload (ingest)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *cfgArg == "" {
		fmt.Fprint(stderr, registryUsage)
		return 2
	}
	switch sub {
	case "reindex":
		if *all == (*dataset != "") || *all && *inventory != "" {
			fmt.Fprintln(stderr, "heliocloud registry reindex: give --dataset <id> or --all (--inventory needs --dataset)")
			return 2
		}
	case "ingest":
		if *source == "" {
			fmt.Fprintln(stderr, "heliocloud registry ingest: --source s3://bucket/prefix/ is required")
			return 2
		}
	case "check":
	default:
		fmt.Fprintf(stderr, "heliocloud registry: unknown subcommand %q\n", sub)
		fmt.Fprint(stderr, registryUsage)
		return 2
	}

	cfg, ok := loadConfig(*cfgArg, stderr)
	if !ok {
		return 1
	}
	rc := cfg.RegistryConfig()
	if err := rc.Compile(); err != nil {
		fmt.Fprintln(stderr, "heliocloud:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	client, err := registry.NewS3Client(ctx, registry.ClientOptions{EndpointURL: *endpoint, Region: cfg.Region})
	if err != nil {
		fmt.Fprintln(stderr, "heliocloud:", err)
		return 1
	}
	p := &progressPrinter{w: stderr, every: time.Second}
	ix := &registry.Indexer{S3: client, Config: rc, Progress: p.report}
	var out any
	switch sub {
	case "reindex":
		if *all {
			out, err = ix.ReindexAll(ctx)
			break
		}
		d, ok := rc.Dataset(*dataset)
		if !ok {
			fmt.Fprintf(stderr, "heliocloud: no dataset %q in registry.datasets of %s\n", *dataset, cfg.File)
			return 1
		}
		if *inventory != "" {
			out, err = ix.ReindexInventory(ctx, d, *inventory)
		} else {
			out, err = ix.Reindex(ctx, d)
		}
	case "ingest":
		out, err = ix.Ingest(ctx, *source)
	case "check":
		out, err = checkCatalogs(ctx, ix)
	}
	p.done()
	if out != nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	}
	if err != nil {
		fmt.Fprintln(stderr, "heliocloud:", err)
		return 1
	}
	return 0
}

// checkCatalogs reads each dataset bucket's catalog with the client's rules.
func checkCatalogs(ctx context.Context, ix *registry.Indexer) (map[string][]string, error) {
	out := map[string][]string{}
	n := 0
	for _, b := range ix.Config.Buckets() {
		out[b] = []string{}
		for _, e := range catalog.Check(ctx, b, ix.Fetcher(b)) {
			out[b] = append(out[b], e.Error())
			n++
		}
	}
	if n > 0 {
		return out, fmt.Errorf("%d problems that would break the cloudcatalog client", n)
	}
	return out, nil
}

// progressPrinter shows long runs on stderr: a line when the stage changes,
// else at most one a second.
type progressPrinter struct {
	w     io.Writer
	every time.Duration

	mu    sync.Mutex
	stage string
	last  time.Time
	line  string
}

func (p *progressPrinter) report(pr registry.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line = fmt.Sprintf("%s: %d", pr.Stage, pr.Done)
	if pr.Total >= 0 {
		p.line += fmt.Sprintf("/%d", pr.Total)
	}
	if pr.Stage == p.stage && time.Since(p.last) < p.every {
		return
	}
	p.stage, p.last = pr.Stage, time.Now()
	fmt.Fprintln(p.w, p.line)
	p.line = ""
}

// done prints the last state, which the throttle may have held back.
func (p *progressPrinter) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.line != "" {
		fmt.Fprintln(p.w, p.line)
		p.line = ""
	}
}
