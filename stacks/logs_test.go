package stacks

import (
	"strings"
	"testing"
)

// Every function of every stack writes to a log group of the template that
// keeps its logs a set time: ours with their component's retention, the
// CDK's deploy-time handlers (the default security group's lock-down,
// AwsCustomResource, bucket notifications) with base.deployLogRetentionDays.
// Each handler's role may write there (AWSLambdaBasicExecutionRole).
func TestEveryFunctionLogsToAKeptGroup(t *testing.T) {
	tpls := synthYAML(t, `
name: t7
base:
  deployLogRetentionDays: 14
  vpc: {flowLogTraffic: reject, flowLogRetentionDays: 60}
auth:
  enabled: true
  logRetentionDays: 7
data:
  enabled: true
  datasets:
    pub: {public: true}
    embargo: {requesterPays: true}
registry:
  enabled: true
  catalogs:
    pub: {name: Public, contact: data@example.org}
  datasets:
    aia: {title: AIA, bucket: pub, prefix: aia/, filetype: fits, time: {layout: "2006/01/02/x_20060102_150405"}}
  indexer: {logRetentionDays: 30}
`, Options{Account: "111122223333", Region: "us-east-1"})
	want := map[string]map[string]float64{ // stack -> function kind -> days
		"base":     {"handler": 14},
		"auth":     {"ours": 7},
		"data":     {"handler": 14},
		"registry": {"ours": 30, "handler": 14},
	}
	for stack, kinds := range want {
		tpl := tpls[stack]
		groups := resources(tpl, "AWS::Logs::LogGroup")
		roles := resources(tpl, "AWS::IAM::Role")
		seen := map[string]int{}
		for id, fn := range resources(tpl, "AWS::Lambda::Function") {
			p := props(fn)
			cfg, _ := p["LoggingConfig"].(map[string]any)
			ref, _ := cfg["LogGroup"].(map[string]any)
			groupID, _ := ref["Ref"].(string)
			g, ok := groups[groupID]
			if !ok {
				t.Errorf("%s/%s logs to %v, not to a log group of its template", stack, id, cfg["LogGroup"])
				continue
			}
			kind := "ours"
			if roleID := refTo(p["Role"]); strings.Contains(toJSON(t, roles[roleID]), "AWSLambdaBasicExecutionRole") {
				kind = "handler" // the CDK's: ours get a role that writes only their own group
			}
			seen[kind]++
			if days, ok := kinds[kind]; !ok || props(g)["RetentionInDays"] != days {
				t.Errorf("%s/%s (%s) keeps its logs %v days, want %v", stack, id, kind, props(g)["RetentionInDays"], kinds[kind])
			}
			if g["DeletionPolicy"] != "Retain" {
				t.Errorf("%s/%s: log group %s is not retained", stack, id, groupID)
			}
		}
		for kind := range kinds {
			if seen[kind] == 0 {
				t.Errorf("%s: no %s function; the fixture no longer tests it", stack, kind)
			}
		}
	}
	// Flow logs: only what was refused, kept 60 days.
	base := tpls["base"]
	for _, f := range resources(base, "AWS::EC2::FlowLog") {
		if got := props(f)["TrafficType"]; got != "REJECT" {
			t.Errorf("flow log traffic %v, want REJECT", got)
		}
		group := resources(base, "AWS::Logs::LogGroup")[refTo(props(f)["LogGroupName"])]
		if got := props(group)["RetentionInDays"]; got != float64(60) {
			t.Errorf("flow logs kept %v days, want 60", got)
		}
	}
}

// refTo is the logical id a {"Ref": id} or {"Fn::GetAtt": [id, ...]} names.
func refTo(v any) string {
	m, _ := v.(map[string]any)
	if id, ok := m["Ref"].(string); ok {
		return id
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
		id, _ := ga[0].(string)
		return id
	}
	return ""
}
