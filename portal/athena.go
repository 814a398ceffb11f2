package portal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	athenatypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
)

// Athena queries take seconds and the Costs page must answer within API
// Gateway's 29 s, together with its Cost Explorer requests; a query not
// done by then is left running for the next load to pick up.
const defaultAthenaWait = 15 * time.Second

// Athena may hand back a stored result of the same query up to this old
// instead of scanning again; the export is refreshed a few times a day, so
// an hour loses nothing and makes page loads on other function instances
// (which do not share this one's memory) cheap.
const athenaReuseMinutes = 60

// Polls of a running query start fast, since a query answered from stored
// results is done at once, and slow down to spare the API's rate limit.
const (
	athenaFirstPoll = 100 * time.Millisecond
	athenaMaxPoll   = time.Second
)

// athenaQuery is one SQL statement and the values of its "?" placeholders,
// which Athena substitutes as SQL literals (strings in single quotes).
type athenaQuery struct {
	SQL    string
	Params []string
}

func (q athenaQuery) key() string { return q.SQL + "\x00" + strings.Join(q.Params, "\x00") }

// errStillRunning is the answer while a query outlives the page's wait.
var errStillRunning = errors.New("the query is still running in Athena; reload the page in a minute")

// athenaRun is a query on its way: answered from memory (Rows), or an
// execution id to wait for, or an error from starting it.
type athenaRun struct {
	q    athenaQuery
	id   string
	rows [][]string
	err  error
}

// startQuery answers q from memory when it can; otherwise it resumes the
// execution an earlier page load left running or starts a new one.
func (p *Portal) startQuery(ctx context.Context, q athenaQuery) *athenaRun {
	run := &athenaRun{q: q}
	now := p.now()
	if rows, ok := p.athenaRows.get(q.key(), now); ok {
		run.rows = rows
		return run
	}
	if id, ok := p.athenaRunning.get(q.key(), now); ok {
		run.id = id
		return run
	}
	hc := p.cfg.HubCosts
	out, err := p.aws.Athena.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{
		QueryString:           aws.String(q.SQL),
		ExecutionParameters:   q.Params,
		WorkGroup:             aws.String(hc.WorkGroup),
		QueryExecutionContext: &athenatypes.QueryExecutionContext{Database: aws.String(hc.Database)},
		ResultReuseConfiguration: &athenatypes.ResultReuseConfiguration{
			ResultReuseByAgeConfiguration: &athenatypes.ResultReuseByAgeConfiguration{Enabled: true, MaxAgeInMinutes: aws.Int32(athenaReuseMinutes)},
		},
	})
	if err != nil {
		run.err = fmt.Errorf("Athena refused to start the query: %w", err)
		return run
	}
	run.id = aws.ToString(out.QueryExecutionId)
	p.athenaRunning.put(q.key(), run.id, now)
	return run
}

// wait polls the run's execution until it ends or ctx does, then reads its
// rows. Only an execution that failed, or whose rows are read, is
// forgotten: one still running is resumed by the next page load.
func (p *Portal) wait(ctx context.Context, run *athenaRun) ([][]string, error) {
	if run.rows != nil || run.err != nil {
		return run.rows, run.err
	}
	if err := p.awaitExecution(ctx, run.id); err != nil {
		if !errors.Is(err, errStillRunning) {
			p.athenaRunning.drop(run.q.key())
		}
		return nil, err
	}
	rows, err := p.queryRows(ctx, run.id)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errStillRunning
		}
		return nil, fmt.Errorf("reading the query's results: %w", err)
	}
	p.athenaRows.put(run.q.key(), rows, p.now())
	p.athenaRunning.drop(run.q.key())
	return rows, nil
}

func (p *Portal) awaitExecution(ctx context.Context, id string) error {
	delay := athenaFirstPoll
	for {
		out, err := p.aws.Athena.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if ctx.Err() != nil {
			return errStillRunning
		}
		if err != nil {
			return fmt.Errorf("asking Athena about the query: %w", err)
		}
		var st athenatypes.QueryExecutionStatus
		if out.QueryExecution != nil && out.QueryExecution.Status != nil {
			st = *out.QueryExecution.Status
		}
		switch st.State {
		case athenatypes.QueryExecutionStateSucceeded:
			return nil
		case athenatypes.QueryExecutionStateFailed:
			return fmt.Errorf("the query failed: %s", aws.ToString(st.StateChangeReason))
		case athenatypes.QueryExecutionStateCancelled:
			return fmt.Errorf("the query was cancelled: %s", aws.ToString(st.StateChangeReason))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return errStillRunning
		case <-t.C:
		}
		delay = min(2*delay, athenaMaxPoll)
	}
}

// queryRows reads every page of a finished query's results. Athena gives
// every value as a string and the column names as the first row, which is
// dropped here.
func (p *Portal) queryRows(ctx context.Context, id string) ([][]string, error) {
	rows := [][]string{}
	pages := athena.NewGetQueryResultsPaginator(p.aws.Athena, &athena.GetQueryResultsInput{QueryExecutionId: aws.String(id), MaxResults: aws.Int32(1000)})
	header := true
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		if out.ResultSet == nil {
			continue
		}
		for _, r := range out.ResultSet.Rows {
			if header {
				header = false
				continue
			}
			row := make([]string, len(r.Data))
			for i, d := range r.Data {
				row[i] = aws.ToString(d.VarCharValue)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}
