package portal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/heliocloud/heliocloud-go/portal/portalconfig"
)

// DaskHub's costs come from the CUR 2.0 export with EKS split cost
// allocation data (Config.HubCosts): one row per pod, hour and usage type,
// holding the pod's share of its node's cost. A pod's cost is its split
// cost plus its share of the node's unused capacity, so that what the
// nodes cost is handed out to the pods on them, to the cent.

// hubShared labels the pods without a user label: the hub itself, its
// proxy, the Dask gateway and the cluster's system pods.
const hubShared = "(shared: hub and system)"

// hubNoTeam labels a user's pods that carry no team label.
const hubNoTeam = "(no team)"

// hubCost is the SQL expression of a pod's cost; the split columns are
// empty on the rows of anything that is not a pod.
const hubCost = "sum(coalesce(split_line_item_split_cost, 0) + coalesce(split_line_item_unused_cost, 0))"

// quoted makes a string an SQL literal, the form Athena wants execution
// parameters in.
func quoted(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// tagValue reads a pod label from the resource_tags map: element_at, since
// a subscript fails the whole query on rows that lack the key. The key is
// inlined because parameters cannot stand for map keys; portalconfig
// checks its shape.
func tagValue(key string) string {
	return "coalesce(element_at(resource_tags, '" + key + "'), '')"
}

func (p *Portal) hubTable() string { return `"` + p.cfg.HubCosts.Table + `"` }

// hubMonthQuery sums this month's cost per user, team and day, so that
// one scan of one partition gives the tables of users and teams and the
// days' trend.
func (p *Portal) hubMonthQuery(period string) athenaQuery {
	hc := p.cfg.HubCosts
	sql := "SELECT " + tagValue(hc.UserTag) + " AS hub_user,\n  " + tagValue(hc.TeamTag) + " AS hub_team,\n" +
		"  date_format(line_item_usage_start_date, '%Y-%m-%d') AS usage_day,\n  " + hubCost + " AS cost\n" +
		"FROM " + p.hubTable() + "\nWHERE billing_period = ?\n  AND " + portalconfig.PodRowsOfCluster + "\nGROUP BY 1, 2, 3\nORDER BY 1, 2, 3"
	return athenaQuery{SQL: sql, Params: []string{quoted(period), quoted(hc.Cluster)}}
}

// hubYearQuery sums the cost of each of periods (billing months).
func (p *Portal) hubYearQuery(periods []string) athenaQuery {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(periods)), ", ")
	sql := "SELECT billing_period, " + hubCost + " AS cost\nFROM " + p.hubTable() +
		"\nWHERE billing_period IN (" + marks + ")\n  AND " + portalconfig.PodRowsOfCluster + "\nGROUP BY 1\nORDER BY 1"
	var params []string
	for _, m := range periods {
		params = append(params, quoted(m))
	}
	return athenaQuery{SQL: sql, Params: append(params, quoted(p.cfg.HubCosts.Cluster))}
}

// hubData is DaskHub's part of the admins' Costs page.
type hubData struct {
	// MonthError and YearError say why a query gave nothing.
	MonthError, YearError string
	Month                 float64
	Users, Teams, Days    []costPoint
	Months                []costPoint
	// Combined are machines and DaskHub side by side, largest total first.
	CombinedUsers, CombinedTeams        []combinedRow
	DaysChart, MonthsChart, TotalsChart chart
}

// combinedRow is one user's or team's spending on both.
type combinedRow struct {
	Label                string
	Machines, Hub, Total float64
}

// hubRuns are the page's two queries under way, and the twelve billing
// months (oldest first) the year's query asks for.
type hubRuns struct {
	month, year *athenaRun
	periods     []string
}

// startHub sets the queries going before the page asks Cost Explorer, so
// that Athena works while the page waits for the other answers.
func (p *Portal) startHub(ctx context.Context) hubRuns {
	now := p.now().UTC()
	var periods []string
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for i := 11; i >= 0; i-- {
		periods = append(periods, first.AddDate(0, -i, 0).Format("2006-01"))
	}
	return hubRuns{
		month:   p.startQuery(ctx, p.hubMonthQuery(periods[11])),
		year:    p.startQuery(ctx, p.hubYearQuery(periods)),
		periods: periods,
	}
}

// hubCosts waits for the runs (within the page's bound) and fills in
// DaskHub's tables beside the machines' month per user and team.
func (p *Portal) hubCosts(ctx context.Context, runs hubRuns, machineUsers, machineTeams []costPoint) *hubData {
	ctx, cancel := context.WithTimeout(ctx, p.athenaWait)
	defer cancel()
	d := &hubData{}
	if rows, err := p.wait(ctx, runs.month); err != nil {
		d.MonthError = p.hubError(err)
	} else if err := p.fillMonth(ctx, d, rows); err != nil {
		d.MonthError = p.hubError(err)
	} else {
		d.CombinedUsers = combine(machineUsers, d.Users)
		d.CombinedTeams = combine(machineTeams, d.Teams)
	}
	if rows, err := p.wait(ctx, runs.year); err != nil {
		d.YearError = p.hubError(err)
	} else if d.Months, err = monthsOf(rows, runs.periods); err != nil {
		d.YearError = p.hubError(err)
	}
	d.DaysChart = dayNumbers(newChart("DaskHub cost per day this month", d.Days, len(d.Days)))
	d.MonthsChart = newChart("DaskHub cost per month, last 12 months", d.Months, len(d.Months))
	totals := make([]costPoint, len(d.CombinedUsers))
	for i, r := range d.CombinedUsers {
		totals[i] = costPoint{Label: r.Label, USD: r.Total}
	}
	d.TotalsChart = newChart("Machines and DaskHub per user this month, largest first", totals, chartedPeople)
	return d
}

// dayNumbers labels a month's days by their number alone: a whole date
// under each of 31 bars would overlap. The full date stays in each bar's
// title.
func dayNumbers(c chart) chart {
	for i, b := range c.Bars {
		if len(b.Label) == len("2006-01-02") {
			c.Bars[i].Short = strings.TrimPrefix(b.Label[8:], "0")
		}
	}
	return c
}

func (p *Portal) hubError(err error) string {
	if errors.Is(err, errStillRunning) {
		p.log.Info("daskhub costs: query still running")
	} else {
		p.log.Error("daskhub costs", "err", err)
	}
	return err.Error()
}

// usd reads a cost as Athena writes a double: "12.5", "1.25E-4", or
// empty for NULL.
func usd(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("Athena returned %q where a cost was expected", s)
	}
	return v, nil
}

// fillMonth sums the rows of hubMonthQuery (user, team, day, cost) per
// user, per team and per day. Users are shown by the user name, as the
// machines' tables show them; the pods' label holds the sub.
func (p *Portal) fillMonth(ctx context.Context, d *hubData, rows [][]string) error {
	users, teams, days := map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, r := range rows {
		if len(r) != 4 {
			return fmt.Errorf("Athena returned %d columns, want 4 (user, team, day, cost)", len(r))
		}
		v, err := usd(r[3])
		if err != nil {
			return err
		}
		user, team := r[0], r[1]
		switch {
		case user == "":
			user, team = hubShared, hubShared
		case team == "":
			team = hubNoTeam
		}
		users[user] += v
		teams[team] += v
		days[r[2]] += v
		d.Month += v
	}
	names := p.userNames(ctx, users)
	named := map[string]float64{}
	for sub, v := range users {
		named[names(sub)] += v
	}
	d.Users, d.Teams = largestFirst(named), largestFirst(teams)
	now := p.now().UTC()
	for t := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC); !t.After(now); t = t.AddDate(0, 0, 1) {
		d.Days = append(d.Days, costPoint{Label: day(t), USD: days[day(t)]})
	}
	return nil
}

// monthsOf reads hubYearQuery's rows (month, cost) into periods, the
// months it asked for, a month without rows costing nothing.
func monthsOf(rows [][]string, periods []string) ([]costPoint, error) {
	months := map[string]float64{}
	for _, r := range rows {
		if len(r) != 2 {
			return nil, fmt.Errorf("Athena returned %d columns, want 2 (month, cost)", len(r))
		}
		v, err := usd(r[1])
		if err != nil {
			return nil, err
		}
		months[r[0]] += v
	}
	pts := make([]costPoint, len(periods))
	for i, m := range periods {
		pts[i] = costPoint{Label: m, USD: months[m]}
	}
	return pts, nil
}

// userNames maps subs to user names from the user pool, read once an hour.
// A sub the pool no longer knows (a deleted user) is shown as it is, and
// so is every sub when the pool cannot be read: the costs still add up.
func (p *Portal) userNames(ctx context.Context, subs map[string]float64) func(string) string {
	names, ok := p.subNames.get("", p.now())
	if !ok {
		var err error
		if names, err = p.listSubs(ctx); err != nil {
			p.log.Error("daskhub costs: user names", "err", err)
		} else {
			p.subNames.put("", names, p.now())
		}
	}
	return func(sub string) string {
		if n, ok := names[sub]; ok {
			return n
		}
		return sub
	}
}

func (p *Portal) listSubs(ctx context.Context) (map[string]string, error) {
	names := map[string]string{}
	in := &cip.ListUsersInput{UserPoolId: aws.String(p.cfg.UserPoolID), AttributesToGet: []string{"sub"}}
	err := p.eachPoolUser(ctx, in, func(u ciptypes.UserType) {
		for _, a := range u.Attributes {
			if aws.ToString(a.Name) == "sub" {
				names[aws.ToString(a.Value)] = aws.ToString(u.Username)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}

// combine puts machines and DaskHub per label side by side, largest total
// first.
func combine(machines, hub []costPoint) []combinedRow {
	rows := map[string]*combinedRow{}
	at := func(label string) *combinedRow {
		if rows[label] == nil {
			rows[label] = &combinedRow{Label: label}
		}
		return rows[label]
	}
	for _, m := range machines {
		at(m.Label).Machines += m.USD
	}
	for _, h := range hub {
		at(h.Label).Hub += h.USD
	}
	out := make([]combinedRow, 0, len(rows))
	for _, r := range rows {
		r.Total = r.Machines + r.Hub
		out = append(out, *r)
	}
	// In largestFirst's order.
	slices.SortFunc(out, func(a, b combinedRow) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), strings.Compare(a.Label, b.Label))
	})
	return out
}
