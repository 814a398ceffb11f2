package main

import (
	"testing"

	"github.com/heliocloud/heliocloud-go/portal/guard"
)

func TestCheckFor(t *testing.T) {
	for _, c := range []struct {
		name, event string
		want        guard.Check
		fails       bool
	}{
		{"sweep", `{"guard":"sweep"}`, guard.Check{}, false},
		{"spend", `{"guard":"spend"}`, guard.Check{Spend: true}, false},
		{"launch", `{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{"instance-id":"i-1","state":"pending"}}`, guard.Check{Spend: true}, false},
		{"removed from a team", `{"source":"aws.cognito-idp","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"AdminRemoveUserFromGroup",` +
			`"requestParameters":{"userPoolId":"us-east-1_pool","username":"alice","groupName":"solar"}}}`, guard.Check{SignOut: "alice"}, false},
		{"disabled", `{"source":"aws.cognito-idp","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"AdminDisableUser",` +
			`"requestParameters":{"userPoolId":"us-east-1_pool","username":"bob"}}}`, guard.Check{SignOut: "bob"}, false},
		{"deleted", `{"source":"aws.cognito-idp","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"AdminDeleteUser",` +
			`"requestParameters":{"userPoolId":"us-east-1_pool","username":"carol"}}}`, guard.Check{}, false},
		{"other pool", `{"source":"aws.cognito-idp","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"AdminDisableUser",` +
			`"requestParameters":{"userPoolId":"us-east-1_other","username":"bob"}}}`, guard.Check{}, false},
		{"unknown", `{"source":"aws.s3"}`, guard.Check{}, true},
		{"not JSON", `nope`, guard.Check{}, true},
	} {
		got, err := checkFor([]byte(c.event), "us-east-1_pool")
		if (err != nil) != c.fails || got != c.want {
			t.Errorf("%s: %+v, %v", c.name, got, err)
		}
	}
}
