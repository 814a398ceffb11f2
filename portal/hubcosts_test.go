package portal_test

import (
	"html"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"

	"github.com/heliocloud/heliocloud-go/portal"
)

// hubMonth is this month's DaskHub table as the month's query sums it:
// user sub, team, day, cost, in the forms Athena writes doubles and NULLs.
var hubMonth = [][]string{
	{"", "", "2026-11-03", "3"}, // the hub's own pods: shared
	{"", "", "2026-11-10", ""},  // NULL sum
	{"sub-alice", "solar", "2026-11-03", "4.5"},
	{"sub-alice", "solar", "2026-11-04", "1.5E0"},
	{"sub-bob", "", "2026-11-04", "2.25"},         // no team label
	{"sub-gone", "magneto", "2026-11-10", "0.75"}, // a user no longer in the pool
}

var hubYear = [][]string{{"2026-09", "10.5"}, {"2026-11", "12.0"}}

// hubEnv is an env whose portal reads DaskHub's costs from the fake
// Athena, which pages its answers two rows at a time.
func hubEnv(t *testing.T, opts portal.Options) *env {
	t.Helper()
	e := newEnvOpts(t, opts, func(c *portal.Config) { c.HubCosts = hubConfig() })
	e.aws.addPoolUser("alice", "alice@example.org", true, "solar")
	e.aws.addPoolUser("bob", "bob@example.org", true)
	e.aws.addPoolUser("root", "root@example.org", true, "admins")
	e.aws.hub = fakeHub{Month: hubMonth, Year: hubYear, Page: 2}
	return e
}

// table returns the rows of the table with id in a page, each a list of
// its cells' text.
func table(t *testing.T, body, id string) [][]string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<table id="` + id + `">.*?</table>`).FindString(body)
	if m == "" {
		t.Fatalf("no table #%s in the page", id)
	}
	var rows [][]string
	for _, tr := range regexp.MustCompile(`(?s)<tr>(.*?)</tr>`).FindAllStringSubmatch(m, -1) {
		var cells []string
		for _, td := range regexp.MustCompile(`<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(tr[1], -1) {
			cells = append(cells, html.UnescapeString(td[1]))
		}
		if cells != nil {
			rows = append(rows, cells)
		}
	}
	return rows
}

func dollars(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimPrefix(s, "$"), 64)
	if err != nil {
		t.Fatalf("not an amount: %q", s)
	}
	return v
}

// bars returns the heights of the bars of the chart titled title.
func bars(body, title string) []string {
	m := regexp.MustCompile(`(?s)<svg class="chart"[^>]*aria-label="` + regexp.QuoteMeta(title) + `".*?</svg>`).FindString(body)
	var hs []string
	for _, h := range regexp.MustCompile(`<rect [^>]*height="([0-9.]+)"`).FindAllStringSubmatch(m, -1) {
		hs = append(hs, h[1])
	}
	return hs
}

func TestHubCostsForAdmins(t *testing.T) {
	e := hubEnv(t, portal.Options{})
	adm, _, _ := e.signIn("root", "root-pw")
	start := time.Now()
	p := adm.get("/costs")
	t.Logf("admin costs page, each query queued and running for one poll each: %v", time.Since(start))
	if p.Status != http.StatusOK {
		t.Fatalf("costs page: %d", p.Status)
	}
	if len(e.aws.hub.Problems) > 0 {
		t.Fatalf("the fake Athena found the requests wrong: %v", e.aws.hub.Problems)
	}
	for _, want := range []string{`id="hub-month">$12.00`, `id="users-month"`, `id="teams-month"`, `id="users-year"`, `id="teams-year"`, `id="hub-note"`, "including its share of its node's idle capacity"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("admin costs page lacks %q", want)
		}
	}
	if strings.Contains(p.Body, `class="error"`) {
		t.Errorf("admin costs page shows an error:\n%s", p.Body)
	}
	// Subs are shown as user names from the pool, as the machines' tables
	// show users; a sub the pool no longer has stays as it is.
	wantRows := map[string][][]string{
		"hub-users-month": {{"alice", "$6.00"}, {"(shared: hub and system)", "$3.00"}, {"bob", "$2.25"}, {"sub-gone", "$0.75"}},
		"hub-teams-month": {{"solar", "$6.00"}, {"(shared: hub and system)", "$3.00"}, {"(no team)", "$2.25"}, {"magneto", "$0.75"}},
		// The fake Cost Explorer answers alice $12.50 and bob $3.00 for
		// every grouping, teams included.
		"total-users-month": {
			{"alice", "$12.50", "$6.00", "$18.50"}, {"bob", "$3.00", "$2.25", "$5.25"},
			{"(shared: hub and system)", "$0.00", "$3.00", "$3.00"}, {"sub-gone", "$0.00", "$0.75", "$0.75"},
		},
		"total-teams-month": {
			{"alice", "$12.50", "$0.00", "$12.50"}, {"solar", "$0.00", "$6.00", "$6.00"},
			// Equal totals are in the order of their labels.
			{"(shared: hub and system)", "$0.00", "$3.00", "$3.00"}, {"bob", "$3.00", "$0.00", "$3.00"},
			{"(no team)", "$0.00", "$2.25", "$2.25"}, {"magneto", "$0.00", "$0.75", "$0.75"},
		},
	}
	for id, want := range wantRows {
		if got := table(t, p.Body, id); !slices.EqualFunc(got, want, slices.Equal[[]string]) {
			t.Errorf("#%s:\n got %v\nwant %v", id, got, want)
		}
	}
	// Everything adds up: each total is machines plus DaskHub, and the
	// DaskHub column, shared row included, is the month's DaskHub total.
	for _, id := range []string{"total-users-month", "total-teams-month"} {
		hub := 0.0
		for _, r := range table(t, p.Body, id) {
			if m, h, tot := dollars(t, r[1]), dollars(t, r[2]), dollars(t, r[3]); m+h != tot {
				t.Errorf("#%s %s: %v + %v != %v", id, r[0], m, h, tot)
			}
			hub += dollars(t, r[2])
		}
		if hub != 12 {
			t.Errorf("#%s: DaskHub column sums to %v, want the month's $12.00", id, hub)
		}
	}
	days := table(t, p.Body, "hub-days")
	if len(days) != 25 || days[2][0] != "2026-11-03" || days[2][1] != "$7.50" || days[9][1] != "$0.75" || days[0][1] != "$0.00" {
		t.Errorf("#hub-days: %v", days)
	}
	months := table(t, p.Body, "hub-months")
	if len(months) != 12 || months[0][0] != "2025-12" || months[9][1] != "$10.50" || months[11][1] != "$12.00" {
		t.Errorf("#hub-months: %v", months)
	}
	// Charts: bars in proportion to the largest (140 units high).
	if b := bars(p.Body, "DaskHub cost per day this month"); len(b) != 25 || b[2] != "140.0" || b[3] != "70.0" || b[9] != "14.0" || b[0] != "0.0" {
		t.Errorf("days chart bars %v", b)
	}
	if b := bars(p.Body, "DaskHub cost per month, last 12 months"); len(b) != 12 || b[11] != "140.0" || b[9] != "122.5" {
		t.Errorf("months chart bars %v", b)
	}
	if b := bars(p.Body, "Machines and DaskHub per user this month, largest first"); len(b) != 4 || b[0] != "140.0" || b[1] != "39.7" {
		t.Errorf("totals chart bars %v", b)
	}

	// Two queries; the month's six rows and header come in four pages.
	if n := len(e.aws.called("StartQueryExecution")); n != 2 {
		t.Errorf("%d queries started, want 2", n)
	}
	var tokens []string
	for _, c := range e.aws.called("GetQueryResults") {
		tokens = append(tokens, aws.ToString(c.Input.(*athena.GetQueryResultsInput).NextToken))
	}
	if strings.Join(tokens, ",") != ",page-2,page-4,page-6,,page-2" {
		t.Errorf("GetQueryResults pages %q", tokens)
	}
	for _, c := range e.aws.called("StartQueryExecution") {
		in := c.Input.(*athena.StartQueryExecutionInput)
		t.Logf("SQL:\n%s\nparameters: %v", aws.ToString(in.QueryString), in.ExecutionParameters)
	}

	// Within the hour the answers come from memory.
	e.aws.reset()
	start = time.Now()
	adm.get("/costs")
	t.Logf("again, from memory: %v", time.Since(start))
	for _, api := range []string{"StartQueryExecution", "GetQueryExecution", "GetQueryResults", "ListUsers"} {
		if n := len(e.aws.called(api)); n != 0 {
			t.Errorf("a second view within the hour made %d %s requests", n, api)
		}
	}
}

// TestHubCostsHidden: users' pages, and admins' without hubCosts, show
// the Costs page as before and ask Athena nothing.
func TestHubCostsHidden(t *testing.T) {
	for _, c := range []struct {
		name, user, password string
		hub                  bool
		want                 string // an element the page still has
	}{
		{"user", "alice", "alice-pw", true, `id="cost-month">$12.50`},
		{"hubCosts off", "root", "root-pw", false, `id="users-month"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var e *env
			if c.hub {
				e = hubEnv(t, portal.Options{})
			} else {
				e = newEnv(t)
			}
			a, _, _ := e.signIn(c.user, c.password)
			p := a.get("/costs")
			if p.Status != http.StatusOK || !strings.Contains(p.Body, c.want) {
				t.Fatalf("costs page: %d, lacks %s", p.Status, c.want)
			}
			if strings.Contains(p.Body, "DaskHub") {
				t.Error("the page speaks of DaskHub")
			}
			if n := len(e.aws.called("StartQueryExecution")); n != 0 {
				t.Errorf("the page started %d Athena queries", n)
			}
		})
	}
}

func TestHubCostsFailed(t *testing.T) {
	e := hubEnv(t, portal.Options{})
	reason := "TABLE_NOT_FOUND: line 5:6: Table 'awsdatacatalog.test_cur.data' does not exist"
	e.aws.hub.Fail = reason
	adm, _, _ := e.signIn("root", "root-pw")
	p := adm.get("/costs")
	if p.Status != http.StatusOK {
		t.Fatalf("a failed Athena query made the costs page %d", p.Status)
	}
	for _, id := range []string{"hub-month-error", "hub-year-error"} {
		msg := regexp.MustCompile(`id="` + id + `">([^<]*)`).FindStringSubmatch(p.Body)
		if msg == nil || !strings.Contains(html.UnescapeString(msg[1]), "the query failed: "+reason) {
			t.Errorf("#%s: %v", id, msg)
		}
	}
	if got := table(t, p.Body, "users-month"); len(got) == 0 || got[0][0] != "alice" || got[0][1] != "$12.50" {
		t.Errorf("machines' costs per user: %v", got)
	}
	if strings.Contains(p.Body, `id="total-users-month"`) {
		t.Error("combined tables shown without DaskHub's costs")
	}
	// A failure is not kept: the next load asks again and shows the costs.
	e.aws.hub.Fail = ""
	p = adm.get("/costs")
	if n := len(e.aws.called("StartQueryExecution")); n != 4 || !strings.Contains(p.Body, `id="hub-month">$12.00`) {
		t.Errorf("after a failure, the next load started %d queries in all (want 4) and shows DaskHub: %v", n, strings.Contains(p.Body, `id="hub-month"`))
	}
}

func TestHubCostsRefused(t *testing.T) {
	e := newEnvOpts(t, portal.Options{}, func(c *portal.Config) { c.HubCosts = hubConfig(); c.HubCosts.WorkGroup = "primary" })
	adm, _, _ := e.signIn("root", "root-pw")
	p := adm.get("/costs")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Athena refused to start the query: api error InvalidRequestException: workgroup primary") {
		t.Errorf("a refused query: %d\n%s", p.Status, p.Body)
	}
}

func TestHubCostsStillRunning(t *testing.T) {
	const wait = 400 * time.Millisecond
	e := hubEnv(t, portal.Options{AthenaWait: wait})
	e.aws.hub.Stuck = true
	adm, _, _ := e.signIn("root", "root-pw")
	start := time.Now()
	p := adm.get("/costs")
	took := time.Since(start)
	t.Logf("costs page with both queries still running after the %v wait: %v", wait, took)
	if p.Status != http.StatusOK || took > 5*time.Second { // far from the default 15 s, lenient to a loaded machine
		t.Fatalf("costs page: %d after %v", p.Status, took)
	}
	if !strings.Contains(p.Body, "still running in Athena; reload the page in a minute") || !strings.Contains(p.Body, `id="users-month"`) {
		t.Errorf("page while the queries run:\n%s", p.Body)
	}
	ids := map[string]bool{}
	for _, c := range e.aws.called("GetQueryExecution") {
		ids[aws.ToString(c.Input.(*athena.GetQueryExecutionInput).QueryExecutionId)] = true
	}
	// The next load, once Athena is done, waits for the same executions
	// instead of starting new ones.
	e.aws.hub.Stuck = false
	e.aws.reset()
	p = adm.get("/costs")
	if n := len(e.aws.called("StartQueryExecution")); n != 0 {
		t.Errorf("the next load started %d new queries", n)
	}
	for _, c := range e.aws.called("GetQueryResults") {
		if id := aws.ToString(c.Input.(*athena.GetQueryResultsInput).QueryExecutionId); !ids[id] {
			t.Errorf("results read from %s, not from the executions left running %v", id, ids)
		}
	}
	if !strings.Contains(p.Body, `id="hub-month">$12.00`) {
		t.Errorf("the next load does not show the finished query's costs")
	}
}
