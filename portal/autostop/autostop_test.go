package autostop

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

type fake struct {
	insts    []types.Instance
	cpu      map[string][]float64
	describe []*ec2.DescribeInstancesInput
	stops    []*ec2.StopInstancesInput
	metrics  []*cloudwatch.GetMetricDataInput
}

func (f *fake) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.describe = append(f.describe, in)
	return &ec2.DescribeInstancesOutput{Reservations: []types.Reservation{{Instances: f.insts}}}, nil
}

func (f *fake) StopInstances(_ context.Context, in *ec2.StopInstancesInput, _ ...func(*ec2.Options)) (*ec2.StopInstancesOutput, error) {
	f.stops = append(f.stops, in)
	return &ec2.StopInstancesOutput{}, nil
}

func (f *fake) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.metrics = append(f.metrics, in)
	out := &cloudwatch.GetMetricDataOutput{}
	for _, q := range in.MetricDataQueries {
		id := aws.ToString(q.MetricStat.Metric.Dimensions[0].Value)
		out.MetricDataResults = append(out.MetricDataResults, cwtypes.MetricDataResult{Id: q.Id, Values: f.cpu[id]})
	}
	return out, nil
}

var now = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

func machine(id string, up time.Duration, kv ...string) types.Instance {
	i := types.Instance{InstanceId: aws.String(id), LaunchTime: aws.Time(now.Add(-up))}
	for k := 0; k+1 < len(kv); k += 2 {
		i.Tags = append(i.Tags, types.Tag{Key: aws.String(kv[k]), Value: aws.String(kv[k+1])})
	}
	return i
}

func newFake() *fake {
	return &fake{
		insts: []types.Instance{
			machine("i-idle", 5*time.Hour),
			machine("i-busy", 5*time.Hour),
			machine("i-optout", 5*time.Hour, "heliocloud:autostop", "off"),
			machine("i-new", 30*time.Minute),
			machine("i-nodata", 5*time.Hour),
		},
		cpu: map[string][]float64{"i-idle": {0.5, 1.2, 4.9}, "i-busy": {0.3, 63, 2}, "i-optout": {0}},
	}
}

func TestIdleStopsOnlyIdleMachines(t *testing.T) {
	f := newFake()
	res, err := Run(context.Background(), Config{Instance: "gsfc", IdleHours: 2}, f, f, Idle, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.stops, []*ec2.StopInstancesInput{{InstanceIds: []string{"i-idle"}}}) {
		t.Errorf("stopped %+v, want only i-idle", f.stops)
	}
	want := map[string]string{"i-busy": "busy", "i-optout": "opted out", "i-new": "started recently", "i-nodata": "busy"}
	if !reflect.DeepEqual(res.Kept, want) {
		t.Errorf("kept %v, want %v", res.Kept, want)
	}
	wantFilter := []types.Filter{
		{Name: aws.String("tag:heliocloud:instance"), Values: []string{"gsfc"}},
		{Name: aws.String("tag-key"), Values: []string{"heliocloud:owner"}},
		{Name: aws.String("instance-state-name"), Values: []string{"running"}},
	}
	if len(f.describe) != 1 || !reflect.DeepEqual(f.describe[0].Filters, wantFilter) {
		t.Errorf("DescribeInstances filters %+v", f.describe)
	}
	m := f.metrics[0]
	if !aws.ToTime(m.StartTime).Equal(now.Add(-2*time.Hour)) || !aws.ToTime(m.EndTime).Equal(now) || len(m.MetricDataQueries) != 3 {
		t.Errorf("metric window %v..%v with %d queries", m.StartTime, m.EndTime, len(m.MetricDataQueries))
	}
	q := m.MetricDataQueries[0].MetricStat
	if aws.ToString(q.Metric.MetricName) != "CPUUtilization" || aws.ToString(q.Metric.Namespace) != "AWS/EC2" || aws.ToInt32(q.Period) != 300 {
		t.Errorf("metric query %+v", q)
	}
}

func TestDailyStopsAllButOptedOut(t *testing.T) {
	f := newFake()
	res, err := Run(context.Background(), Config{Instance: "gsfc", IdleHours: 2}, f, f, Daily, now)
	if err != nil {
		t.Fatal(err)
	}
	got := f.stops[0].InstanceIds
	slices.Sort(got)
	if !reflect.DeepEqual(got, []string{"i-busy", "i-idle", "i-new", "i-nodata"}) || len(f.metrics) != 0 {
		t.Errorf("daily stopped %v (metrics read %d times)", got, len(f.metrics))
	}
	if res.Kept["i-optout"] != "opted out" {
		t.Errorf("kept %v", res.Kept)
	}
}

func TestIdleOffAndUnknownMode(t *testing.T) {
	f := newFake()
	if _, err := Run(context.Background(), Config{Instance: "gsfc"}, f, f, Idle, now); err != nil || len(f.stops) != 0 {
		t.Errorf("idle hours 0 stopped %v (%v)", f.stops, err)
	}
	if _, err := Run(context.Background(), Config{Instance: "gsfc"}, f, f, "weekly", now); err == nil {
		t.Error("unknown mode accepted")
	}
}
