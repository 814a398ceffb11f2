// Command registry is the registry's AWS Lambda function (provided.al2023,
// arm64). It indexes the S3 event notifications that arrive in SQS batches,
// reporting partial batch failures so that only failed messages are retried,
// and it serves direct invocations by administrators:
//
//	{"action": "reindex", "dataset": "aia_0094"}
//	{"action": "reindex", "all": true}
//	{"action": "reindex", "dataset": "aia_0094", "inventory": "s3://inv/.../manifest.json"}
//	{"action": "ingest", "source": "s3://ingest-bucket/upload-1/"}
//
// Datasets come from the HELIOCLOUD_REGISTRY environment variable (see
// registry.Config).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/heliocloud/heliocloud-go/registry"
)

// EnvEndpoint optionally points the function at another S3-compatible
// endpoint (tests, on-premises copies).
const EnvEndpoint = "HELIOCLOUD_S3_ENDPOINT"

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := registry.ConfigFromEnv()
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	client, err := registry.NewS3Client(context.Background(), registry.ClientOptions{EndpointURL: os.Getenv(EnvEndpoint)})
	if err != nil {
		log.Error("s3 client", "error", err.Error())
		os.Exit(1)
	}
	h := &handler{ix: &registry.Indexer{S3: client, Config: cfg}, log: log}
	lambda.Start(h.handle)
}

type handler struct {
	ix  *registry.Indexer
	log *slog.Logger
}

// request is a direct invocation.
type request struct {
	Action    string `json:"action"`
	Dataset   string `json:"dataset"`
	All       bool   `json:"all"`
	Inventory string `json:"inventory"`
	Source    string `json:"source"`
}

func (h *handler) handle(ctx context.Context, raw json.RawMessage) (any, error) {
	// A direct invocation decodes as an SQS event without records.
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err == nil && len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:sqs" {
		return h.sqs(ctx, ev), nil
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("invocation: %w", err)
	}
	return h.direct(ctx, req)
}

// sqs applies every event of the batch at once (so that each year file is
// written once per batch) and reports the messages whose events failed.
func (h *handler) sqs(ctx context.Context, ev events.SQSEvent) events.SQSEventResponse {
	var all []registry.Event
	var owner []int
	failed := map[int]bool{}
	for i, m := range ev.Records {
		es, err := registry.ParseNotification(m.Body)
		if err != nil {
			// Retrying will not help; failing sends it to the dead-letter
			// queue, whose alarm brings it to someone's attention.
			h.log.Error("unreadable message", "messageId", m.MessageId, "error", err.Error())
			failed[i] = true
			continue
		}
		for _, e := range es {
			all = append(all, e)
			owner = append(owner, i)
		}
	}
	res := h.ix.Apply(ctx, all)
	for _, s := range res.Skipped {
		h.log.Warn("skipped key", "bucket", s.Bucket, "key", s.Key, "reason", s.Reason)
	}
	for j, err := range res.Errors {
		if err != nil {
			h.log.Error("event failed", "bucket", all[j].Bucket, "key", all[j].Key, "error", err.Error())
			failed[owner[j]] = true
		}
	}
	if len(res.Written) > 0 {
		h.log.Info("indexed", "events", len(all), "written", res.Written)
	}
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for i, m := range ev.Records {
		if failed[i] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp
}

func (h *handler) direct(ctx context.Context, req request) (any, error) {
	switch req.Action {
	case "reindex":
		if req.All {
			if req.Dataset != "" || req.Inventory != "" {
				return nil, errors.New(`reindex: "all" takes no "dataset" or "inventory"`)
			}
			return h.ix.ReindexAll(ctx)
		}
		d, ok := h.ix.Config.Dataset(req.Dataset)
		if !ok {
			return nil, fmt.Errorf("reindex: no dataset %q; give a declared id or \"all\": true", req.Dataset)
		}
		if req.Inventory != "" {
			return h.ix.ReindexInventory(ctx, d, req.Inventory)
		}
		return h.ix.Reindex(ctx, d)
	case "ingest":
		rep, err := h.ix.Ingest(ctx, req.Source)
		if errors.Is(err, registry.ErrRejected) {
			// A rejected upload is an answer, not a failure of the function.
			return rep, nil
		}
		return rep, err
	}
	return nil, fmt.Errorf("unknown action %q: use reindex or ingest", req.Action)
}
