package portal

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
)

// Cost Explorer charges per request and refreshes a few times a day, so
// answers are kept for an hour.
const costTTL = time.Hour

type costPoint struct {
	Label string
	USD   float64
}

type costData struct {
	Week       []costPoint
	WeekTotal  float64
	Month      float64
	Year       []costPoint
	YearTotal  float64
	Admin      bool
	UsersMonth []costPoint
	TeamsMonth []costPoint
	UsersYear  []costPoint
	TeamsYear  []costPoint
	// Charts of the same: the user's days and months, and for admins who
	// spends most this month.
	WeekChart, YearChart             chart
	UsersMonthChart, TeamsMonthChart chart
	// Hub is DaskHub's costs, for admins when Config.HubCosts is set.
	Hub *hubData
}

// chartedPeople is how many users or teams a chart shows: the largest.
const chartedPeople = 12

func day(t time.Time) string { return t.Format("2006-01-02") }

func tagIs(key, value string) cetypes.Expression {
	return cetypes.Expression{Tags: &cetypes.TagValues{Key: aws.String(key), Values: []string{value}, MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionEquals}}}
}

// periods returns the three windows the Costs page shows, all ending
// tomorrow because Cost Explorer's end date is exclusive.
func (p *Portal) periods() (week, month, year cetypes.DateInterval) {
	now := p.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	end := day(today.AddDate(0, 0, 1))
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	week = cetypes.DateInterval{Start: aws.String(day(today.AddDate(0, 0, -6))), End: aws.String(end)}
	month = cetypes.DateInterval{Start: aws.String(day(first)), End: aws.String(end)}
	year = cetypes.DateInterval{Start: aws.String(day(first.AddDate(0, -11, 0))), End: aws.String(end)}
	return
}

// query runs one Cost Explorer request, filtered to this HelioCloud
// instance and, when owner (a Cognito sub) is not empty, to that owner's machines.
func (p *Portal) query(ctx context.Context, owner string, period cetypes.DateInterval, g cetypes.Granularity, groupBy string) (*costexplorer.GetCostAndUsageOutput, error) {
	filter := tagIs(TagInstance, p.cfg.Instance)
	if owner != "" {
		filter = cetypes.Expression{And: []cetypes.Expression{tagIs(TagOwner, owner), filter}}
	}
	in := &costexplorer.GetCostAndUsageInput{
		TimePeriod: &period, Granularity: g, Metrics: []string{"UnblendedCost"}, Filter: &filter,
	}
	if groupBy != "" {
		in.GroupBy = []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeTag, Key: aws.String(groupBy)}}
	}
	key := fmt.Sprintf("%s|%s|%s|%s|%s", owner, aws.ToString(period.Start), aws.ToString(period.End), g, groupBy)
	if out, ok := p.spend.get(key, p.now()); ok {
		return out, nil
	}
	var out *costexplorer.GetCostAndUsageOutput
	for {
		page, err := p.aws.Costs.GetCostAndUsage(ctx, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = page
		} else {
			out.ResultsByTime = append(out.ResultsByTime, page.ResultsByTime...)
		}
		if aws.ToString(page.NextPageToken) == "" {
			break
		}
		in.NextPageToken = page.NextPageToken
	}
	p.spend.put(key, out, p.now())
	return out, nil
}

func amount(m map[string]cetypes.MetricValue) float64 {
	v, _ := strconv.ParseFloat(aws.ToString(m["UnblendedCost"].Amount), 64)
	return v
}

func series(out *costexplorer.GetCostAndUsageOutput, label func(string) string) ([]costPoint, float64) {
	var pts []costPoint
	var total float64
	for _, r := range out.ResultsByTime {
		v := amount(r.Total)
		total += v
		pts = append(pts, costPoint{Label: label(aws.ToString(r.TimePeriod.Start)), USD: v})
	}
	return pts, total
}

// grouped sums a tag-grouped answer per tag value, largest first. Cost
// Explorer names groups "Key$value"; an empty value means untagged.
func grouped(out *costexplorer.GetCostAndUsageOutput) []costPoint {
	sums := map[string]float64{}
	for _, r := range out.ResultsByTime {
		for _, g := range r.Groups {
			if len(g.Keys) == 0 {
				continue
			}
			_, v, _ := strings.Cut(g.Keys[0], "$")
			if v == "" {
				v = "(no tag)"
			}
			sums[v] += amount(g.Metrics)
		}
	}
	return largestFirst(sums)
}

// largestFirst lists sums by label, largest first, ties by label, so that
// tables and charts keep their order from one load to the next.
func largestFirst(sums map[string]float64) []costPoint {
	pts := make([]costPoint, 0, len(sums))
	for k, v := range sums {
		pts = append(pts, costPoint{Label: k, USD: v})
	}
	slices.SortFunc(pts, func(a, b costPoint) int { return cmp.Or(cmp.Compare(b.USD, a.USD), strings.Compare(a.Label, b.Label)) })
	return pts
}

// monthSpend is the owner's cost so far this month.
func (p *Portal) monthSpend(ctx context.Context, owner string) (float64, error) {
	_, month, _ := p.periods()
	out, err := p.query(ctx, owner, month, cetypes.GranularityMonthly, "")
	if err != nil {
		return 0, err
	}
	_, total := series(out, func(s string) string { return s })
	return total, nil
}

func (p *Portal) costs(w http.ResponseWriter, r *http.Request, s *Session) {
	ctx := r.Context()
	week, month, year := p.periods()
	d := costData{Admin: p.isAdmin(s)}
	var hub hubRuns
	if d.Admin && p.cfg.HubCosts != nil {
		hub = p.startHub(ctx)
	}
	out, err := p.query(ctx, s.Subject, week, cetypes.GranularityDaily, "")
	if err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	d.Week, d.WeekTotal = series(out, func(s string) string { return s })
	if d.Month, err = p.monthSpend(ctx, s.Subject); err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	if out, err = p.query(ctx, s.Subject, year, cetypes.GranularityMonthly, ""); err != nil {
		p.awsFail(w, r, s, err)
		return
	}
	d.Year, d.YearTotal = series(out, func(s string) string { return s[:min(len(s), 7)] })
	if d.Admin {
		for _, q := range []struct {
			period cetypes.DateInterval
			tag    string
			dst    *[]costPoint
		}{
			{month, TagUser, &d.UsersMonth}, {month, TagTeam, &d.TeamsMonth},
			{year, TagUser, &d.UsersYear}, {year, TagTeam, &d.TeamsYear},
		} {
			out, err := p.query(ctx, "", q.period, cetypes.GranularityMonthly, q.tag)
			if err != nil {
				p.awsFail(w, r, s, err)
				return
			}
			*q.dst = grouped(out)
		}
		if p.cfg.HubCosts != nil {
			d.Hub = p.hubCosts(ctx, hub, d.UsersMonth, d.TeamsMonth)
		}
	}
	d.WeekChart = newChart("Cost per day, last 7 days", d.Week, len(d.Week))
	d.YearChart = newChart("Cost per month, last 12 months", d.Year, len(d.Year))
	d.UsersMonthChart = newChart("Cost per user this month, largest first", d.UsersMonth, chartedPeople)
	d.TeamsMonthChart = newChart("Cost per team this month, largest first", d.TeamsMonth, chartedPeople)
	p.render(w, r, s, http.StatusOK, "costs", d)
}
