package checks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	athenatypes "github.com/aws/aws-sdk-go-v2/service/athena/types"

	"github.com/heliocloud/heliocloud-go/daskhub/values"
	"github.com/heliocloud/heliocloud-go/portal/portalconfig"
)

// athenaPoll is how often the hub costs check asks whether its query is
// done; athenaWait is how long it waits in all.
var athenaPoll, athenaWait = time.Second, 2 * time.Minute

// hubCosts asks the billing table what the Costs page will read: pod rows
// of this cluster in this and last month, and how many carry the user
// label. It tells apart the two payer-account steps no API reports on.
func (d *doctor) hubCosts(ctx context.Context, s *stackState) (Status, string, error) {
	if !d.cfg.Portal.HubCosts.Enabled {
		return skip("portal.hubCosts is off")
	}
	n := d.cfg.HubCostsNames()
	cluster, err := d.output(d.stacks["daskhub"], OutputClusterName)
	if err != nil {
		return Fail, "", err
	}
	now := time.Now().UTC()
	months := []string{now.Format("2006-01"), now.AddDate(0, 0, -now.Day()).Format("2006-01")}
	userTag := portalconfig.CURTagKey(values.UserLabel)
	sql := fmt.Sprintf(`SELECT count(*), count(element_at(resource_tags, '%s')) FROM "%s"."%s" `+
		`WHERE billing_period IN (?, ?) AND `+portalconfig.PodRowsOfCluster,
		userTag, n.Database, n.Table)
	row, err := d.athenaRow(ctx, n.WorkGroup, n.Database, sql, "'"+months[0]+"'", "'"+months[1]+"'", "'"+cluster+"'")
	if err != nil {
		return fail("querying %s.%s in workgroup %s: %v", n.Database, n.Table, n.WorkGroup, err)
	}
	pods, _ := strconv.Atoi(row[0])
	labelled, _ := strconv.Atoi(row[1])
	switch {
	case pods == 0:
		return warn("no rows of %s's pods in the billing export for %s: either the payer account has not switched on split cost allocation data for EKS, "+
			"or the export has not been refreshed since it was (AWS refreshes it up to three times a day; the first data takes up to 24 hours; docs/cost.md)",
			cluster, strings.Join(months, " or "))
	case labelled == 0:
		return warn("%d rows of %s's pods but none carries %s: activate the labels as cost allocation tags in the payer account: "+
			"aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey=%s,Status=Active TagKey=%s,Status=Active",
			pods, cluster, values.UserLabel, values.UserLabel, values.TeamLabel)
	}
	return pass("%d rows of %s's pods in %s, %d of them a user's", pods, cluster, strings.Join(months, " and "), labelled)
}

// athenaRow runs a query that answers one row and returns its values.
func (d *doctor) athenaRow(ctx context.Context, workGroup, database, sql string, params ...string) ([]string, error) {
	client := athena.NewFromConfig(d.env.AWS, func(o *athena.Options) { o.Region = d.region })
	start, err := client.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{
		QueryString:           aws.String(sql),
		WorkGroup:             aws.String(workGroup),
		QueryExecutionContext: &athenatypes.QueryExecutionContext{Database: aws.String(database)},
		ExecutionParameters:   params,
	})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(athenaWait)
	for {
		out, err := client.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: start.QueryExecutionId})
		if err != nil {
			return nil, err
		}
		st := out.QueryExecution.Status
		switch st.State {
		case athenatypes.QueryExecutionStateSucceeded:
			res, err := client.GetQueryResults(ctx, &athena.GetQueryResultsInput{QueryExecutionId: start.QueryExecutionId})
			if err != nil {
				return nil, err
			}
			// The first row holds the column names.
			if rows := res.ResultSet.Rows; len(rows) > 1 {
				var vals []string
				for _, c := range rows[1].Data {
					vals = append(vals, aws.ToString(c.VarCharValue))
				}
				return vals, nil
			}
			return nil, fmt.Errorf("query %s answered no row", aws.ToString(start.QueryExecutionId))
		case athenatypes.QueryExecutionStateFailed, athenatypes.QueryExecutionStateCancelled:
			return nil, fmt.Errorf("query %s %s: %s", aws.ToString(start.QueryExecutionId), strings.ToLower(string(st.State)), aws.ToString(st.StateChangeReason))
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("query %s still %s after %s", aws.ToString(start.QueryExecutionId), strings.ToLower(string(st.State)), athenaWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(athenaPoll):
		}
	}
}
