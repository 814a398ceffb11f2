package stacks

import (
	"os"
	"strings"
	"testing"

	"github.com/heliocloud/heliocloud-go/checks"
	"github.com/heliocloud/heliocloud-go/daskhub/values"
)

// `heliocloud doctor` finds what it checks by stack outputs, Helm release
// names and resource types (checks/doctor.go); renaming any of them here
// must fail this test, not the doctor at an admin's desk.
func TestDoctorFindsWhatItReads(t *testing.T) {
	text, err := os.ReadFile("../instances/gsfc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// gsfc, but without the portal: its function's build (the EC2 client
	// for arm64) is the slowest part of a synth; portal_test.go synthesizes it.
	yaml := strings.Replace(string(text), "portal:\n  enabled: true", "portal:\n  enabled: false", 1)
	if yaml == string(text) {
		t.Fatal("gsfc.yaml no longer enables the portal as this test expects")
	}
	tpls := synthYAML(t, yaml, Options{Account: "111122223333", Region: "us-east-1"})
	for comp, keys := range map[string][]string{
		"auth":     {checks.OutputUserPoolID, checks.OutputSignInURL},
		"daskhub":  {checks.OutputClusterName, checks.OutputFileSystemID, checks.OutputHubURL},
		"registry": {checks.OutputDeadLetterQueue},
	} {
		outputs, _ := (*tpls[comp].ToJSON())["Outputs"].(map[string]any)
		for _, k := range keys {
			if _, ok := outputs[k]; !ok {
				t.Errorf("the %s stack has no output %s, which the doctor reads", comp, k)
			}
		}
	}
	releases := map[string]bool{}
	for _, r := range resources(tpls["daskhub"], "Custom::AWSCDK-EKS-HelmChart") {
		releases[props(r)["Release"].(string)] = true
	}
	for _, want := range []string{values.AutoscalerRelease, values.DevicePluginRelease} {
		if !releases[want] {
			t.Errorf("no Helm release %q, which the doctor looks for; releases: %v", want, releases)
		}
	}
	if len(resources(tpls["base"], "AWS::Budgets::Budget")) != 1 {
		t.Error("the base stack has no AWS::Budgets::Budget, which the doctor finds the budget by")
	}
	if n := len(resources(tpls["registry"], "AWS::SQS::Queue")); n != 2 {
		t.Errorf("the registry stack has %d queues; the doctor takes the one that is not the dead-letter queue as the events queue", n)
	}
}
