// Package autostop stops a HelioCloud instance's idle portal machines. An
// EventBridge schedule invokes it hourly in "idle" mode (stop machines
// whose CPU stayed below a threshold for the configured hours) and, when
// the YAML sets a daily time, once a day in "daily" mode (stop every
// running machine). Machines tagged heliocloud:autostop=off are left alone.
package autostop

import (
	"context"
	"fmt"
	"github.com/heliocloud/heliocloud-go/portal/portalconfig"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/heliocloud/heliocloud-go/portal"
)

// Modes an event can ask for.
const (
	Idle  = portalconfig.AutoStopIdle
	Daily = portalconfig.AutoStopDaily
)

// EC2 is the part of EC2 auto-stop uses.
type EC2 interface {
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	StopInstances(context.Context, *ec2.StopInstancesInput, ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error)
}

// Metrics reads CPU utilization from CloudWatch.
type Metrics interface {
	GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// Config is the auto-stop policy of one HelioCloud instance.
type Config struct {
	// Instance is the value of the heliocloud:instance tag.
	Instance string `json:"instance"`
	// IdleHours is how long a machine's CPU must stay below CPUPercent
	// before it is stopped; 0 turns idle stopping off.
	IdleHours int `json:"idleHours"`
	// CPUPercent is the idle threshold. Default 5.
	CPUPercent float64 `json:"cpuPercent"`
}

// Event is the payload the schedule sends.
type Event struct {
	AutoStop string `json:"autostop"`
}

// Result says what a run did.
type Result struct {
	Stopped []string `json:"stopped"`
	// Kept are running machines left alone, with the reason.
	Kept map[string]string `json:"kept"`
}

// Run applies the policy for mode at time now.
func Run(ctx context.Context, cfg Config, c EC2, m Metrics, mode string, now time.Time) (*Result, error) {
	if mode != Idle && mode != Daily {
		return nil, fmt.Errorf("autostop: unknown mode %q (want %q or %q)", mode, Idle, Daily)
	}
	if cfg.CPUPercent <= 0 {
		cfg.CPUPercent = 5
	}
	res := &Result{Kept: map[string]string{}}
	running, err := runningMachines(ctx, c, cfg.Instance)
	if err != nil {
		return nil, err
	}
	var candidates []types.Instance
	for _, i := range running {
		id := aws.ToString(i.InstanceId)
		switch {
		case tag(i.Tags, portal.TagAutoStop) == portal.AutoStopOff:
			res.Kept[id] = "opted out"
		case mode == Daily:
			res.Stopped = append(res.Stopped, id)
		case cfg.IdleHours <= 0:
			res.Kept[id] = "idle stopping is off"
		case now.Sub(aws.ToTime(i.LaunchTime)) < time.Duration(cfg.IdleHours)*time.Hour:
			res.Kept[id] = "started recently"
		default:
			candidates = append(candidates, i)
		}
	}
	if len(candidates) > 0 {
		idle, err := idleMachines(ctx, m, candidates, cfg, now)
		if err != nil {
			return nil, err
		}
		for _, i := range candidates {
			id := aws.ToString(i.InstanceId)
			if idle[id] {
				res.Stopped = append(res.Stopped, id)
			} else {
				res.Kept[id] = "busy"
			}
		}
	}
	// StopInstances takes many ids; batches keep each request small.
	for start := 0; start < len(res.Stopped); start += 50 {
		batch := res.Stopped[start:min(start+50, len(res.Stopped))]
		if _, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: batch}); err != nil {
			return res, fmt.Errorf("autostop: stopping %v: %w", batch, err)
		}
	}
	return res, nil
}

func tag(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func runningMachines(ctx context.Context, c EC2, instance string) ([]types.Instance, error) {
	in := &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("tag:" + portal.TagInstance), Values: []string{instance}},
		{Name: aws.String("tag-key"), Values: []string{portal.TagOwner}},
		{Name: aws.String("instance-state-name"), Values: []string{"running"}},
	}}
	out, err := portal.Instances(ctx, c, in)
	if err != nil {
		return nil, fmt.Errorf("autostop: listing machines: %w", err)
	}
	return out, nil
}

// idleMachines asks CloudWatch for each machine's highest 5-minute CPU
// average over the idle window. A machine without data points is not
// called idle: missing metrics are no proof of idleness.
func idleMachines(ctx context.Context, m Metrics, insts []types.Instance, cfg Config, now time.Time) (map[string]bool, error) {
	idle := map[string]bool{}
	// GetMetricData accepts at most 500 queries per request.
	for start := 0; start < len(insts); start += 500 {
		batch := insts[start:min(start+500, len(insts))]
		in := &cloudwatch.GetMetricDataInput{
			StartTime: aws.Time(now.Add(-time.Duration(cfg.IdleHours) * time.Hour)), EndTime: aws.Time(now),
		}
		ids := map[string]string{}
		for k, i := range batch {
			qid := "m" + strconv.Itoa(k)
			ids[qid] = aws.ToString(i.InstanceId)
			in.MetricDataQueries = append(in.MetricDataQueries, cwtypes.MetricDataQuery{
				Id: aws.String(qid),
				MetricStat: &cwtypes.MetricStat{
					Metric: &cwtypes.Metric{Namespace: aws.String("AWS/EC2"), MetricName: aws.String("CPUUtilization"),
						Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: i.InstanceId}}},
					Period: aws.Int32(300), Stat: aws.String("Average"),
				},
			})
		}
		maxCPU := map[string]float64{}
		seen := map[string]bool{}
		for {
			out, err := m.GetMetricData(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("autostop: reading CPU metrics: %w", err)
			}
			for _, r := range out.MetricDataResults {
				id := ids[aws.ToString(r.Id)]
				for _, v := range r.Values {
					seen[id] = true
					maxCPU[id] = max(maxCPU[id], v)
				}
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
		for _, id := range ids {
			idle[id] = seen[id] && maxCPU[id] < cfg.CPUPercent
		}
	}
	return idle, nil
}
