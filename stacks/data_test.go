package stacks

import (
	"testing"

	"github.com/aws/jsii-runtime-go"
)

func TestDataSmoke(t *testing.T) {
	tpl := synthYAML(t, `
name: t1
teams: {sdo: {}, mms: {}}
data:
  enabled: true
  datasets:
    sdo-aia: {public: true, writers: [sdo]}
    mms: {encryption: kms, requesterPays: true, readerAccounts: ["222233334444"]}
containers:
  enabled: true
  pullAccounts: ["222233334444"]
  repositories:
    sdo/aia-tools: {team: sdo}
    base-notebook: {encryption: KMS}
`, Options{})
	tpl["data"].ResourceCountIs(jsii.String("AWS::S3::Bucket"), jsii.Number(7))
}
