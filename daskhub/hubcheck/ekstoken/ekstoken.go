// Package ekstoken makes the bearer tokens EKS accepts. It is apart from
// hubcheck because it needs the AWS SDK's STS client, which the CDK app,
// importing hubcheck's types, must not link.
package ekstoken

import (
	"context"
	"encoding/base64"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// New returns a function that makes EKS bearer tokens for cluster: a
// presigned STS GetCallerIdentity request bound to the cluster's name, which
// EKS resolves to the caller's IAM role and then to its access entry. No
// call is made here; presigning is local.
func New(cfg aws.Config, cluster string) func(ctx context.Context) (string, error) {
	presign := sts.NewPresignClient(sts.NewFromConfig(cfg))
	return func(ctx context.Context) (string, error) {
		req, err := presign.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
			o.ClientOptions = append(o.ClientOptions, func(so *sts.Options) {
				so.APIOptions = append(so.APIOptions,
					// EKS refuses a token without the cluster's name signed in.
					smithyhttp.AddHeaderValue("x-k8s-aws-id", cluster),
					// EKS accepts tokens of at most 15 minutes; one request needs one.
					smithyhttp.AddHeaderValue("X-Amz-Expires", "60"))
			})
		})
		if err != nil {
			return "", err
		}
		return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(req.URL)), nil
	}
}
