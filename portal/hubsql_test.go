package portal

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heliocloud/heliocloud-go/internal/testtool"
)

// hubSQLite runs Athena SQL in SQLite (python3's sqlite3) over a small
// table of CUR 2.0 line items. SQLite lacks Trino's maps and a few
// functions, so the script defines element_at (over resource_tags stored
// as JSON), split_part and date_format with Trino's meaning for the
// arguments the portal passes; the rest of the statement runs as sent.
const hubSQLite = `
import json, sqlite3, sys
from datetime import datetime
req = json.load(sys.stdin)
db = sqlite3.connect(":memory:")
db.create_function("element_at", 2, lambda m, k: json.loads(m).get(k))
def split_part(s, d, n):
    parts = s.split(d)
    return parts[n - 1] if n <= len(parts) else None
db.create_function("split_part", 3, split_part)
db.create_function("date_format", 2, lambda ts, f: datetime.fromisoformat(ts).strftime(f))
db.execute("""CREATE TABLE data (line_item_usage_start_date TEXT, line_item_operation TEXT,
  line_item_usage_type TEXT, line_item_resource_id TEXT, resource_tags TEXT,
  split_line_item_split_cost REAL, split_line_item_unused_cost REAL,
  split_line_item_parent_resource_id TEXT, billing_period TEXT)""")
db.executemany("INSERT INTO data VALUES (?,?,?,?,?,?,?,?,?)", req["rows"])
out = {}
for name, sql in req["sql"].items():
    out[name] = [[str(v) for v in r] for r in db.execute(sql)]
json.dump(out, sys.stdout)
`

// literal puts q's parameters in place of its placeholders, as Athena
// does with execution parameters (they are SQL literals already).
func literal(q athenaQuery) string {
	s := q.SQL
	for _, v := range q.Params {
		s = strings.Replace(s, "?", v, 1)
	}
	return s
}

func TestHubSQLSumsPodsOfTheCluster(t *testing.T) {
	p := &Portal{cfg: Config{HubCosts: &HubCosts{WorkGroup: "wg", Database: "cur", Table: "data", Cluster: "test-hub",
		UserTag: "user_heliocloud_org_user", TeamTag: "user_heliocloud_org_team"}}}
	pod := func(cluster, name string) string {
		return "arn:aws:eks:us-east-1:111122223333:pod/" + cluster + "/daskhub/" + name + "/0b6a3c1e"
	}
	alice := `{"user_heliocloud_org_user": "sub-alice", "user_heliocloud_org_team": "solar"}`
	bob := `{"user_heliocloud_org_user": "sub-bob"}`
	row := func(ts, op, usage, id, tags string, split, unused any, period string) []any {
		return []any{ts, op, usage, id, tags, split, unused, "i-0123456789abcdef0", period}
	}
	rows := [][]any{
		row("2026-11-03 10:00:00", "EKSPod-EC2", "USE1-EKS-EC2-vCPU-Hours", pod("test-hub", "jupyter-alice"), alice, 1.0, 0.5, "2026-11"),
		row("2026-11-03 10:00:00", "EKSPod-EC2", "USE1-EKS-EC2-GB-Hours", pod("test-hub", "jupyter-alice"), alice, 0.25, 0.25, "2026-11"),
		row("2026-11-04 02:00:00", "EKSPod-EC2", "USE1-EKS-EC2-Accelerator-Hours", pod("test-hub", "dask-worker-1"), alice, 3.0, nil, "2026-11"),
		row("2026-11-04 02:00:00", "EKSPod-EC2", "USE1-EKS-EC2-vCPU-Hours", pod("test-hub", "jupyter-bob"), bob, 1.0, 0.0, "2026-11"),
		// The hub itself: no user label, counted as shared.
		row("2026-11-03 10:00:00", "EKSPod-EC2", "USE1-EKS-EC2-vCPU-Hours", pod("test-hub", "hub-5d8f"), `{}`, 0.5, 0.5, "2026-11"),
		// Not this cluster's pods, though one's name starts with it.
		row("2026-11-03 10:00:00", "EKSPod-EC2", "USE1-EKS-EC2-vCPU-Hours", pod("other-hub", "jupyter-alice"), alice, 100.0, 0.0, "2026-11"),
		row("2026-11-03 10:00:00", "EKSPod-EC2", "USE1-EKS-EC2-vCPU-Hours", pod("test-hub-2", "jupyter-alice"), alice, 100.0, 0.0, "2026-11"),
		// The node itself, whose cost the pods' rows share out.
		row("2026-11-03 10:00:00", "RunInstances", "USE1-BoxUsage:m7i.xlarge", "i-0123456789abcdef0", alice, nil, nil, "2026-11"),
		// Last month and a month before the twelve.
		row("2026-10-30 10:00:00", "EKSPod-EC2", "USE1-EKS-EC2-vCPU-Hours", pod("test-hub", "jupyter-alice"), alice, 2.0, 0.25, "2026-10"),
		row("2025-11-30 10:00:00", "EKSPod-EC2", "USE1-EKS-EC2-vCPU-Hours", pod("test-hub", "jupyter-alice"), alice, 50.0, 0.0, "2025-11"),
	}
	var periods []string
	for i := 11; i >= 0; i-- {
		periods = append(periods, time.Date(2026, 11-time.Month(i), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"))
	}
	req := map[string]any{"rows": rows, "sql": map[string]string{
		"month": literal(p.hubMonthQuery("2026-11")), "year": literal(p.hubYearQuery(periods)),
	}}
	var got map[string][][]string
	testtool.RunPython(t, hubSQLite, req, &got)
	want := map[string]string{
		"month": "[[  2026-11-03 1.0] [sub-alice solar 2026-11-03 2.0] [sub-alice solar 2026-11-04 3.0] [sub-bob  2026-11-04 1.0]]",
		"year":  "[[2026-10 2.25] [2026-11 7.0]]",
	}
	for name, w := range want {
		if g := fmt.Sprint(got[name]); g != w {
			t.Errorf("%s query's rows:\n got %s\nwant %s", name, g, w)
		}
	}
}
