package ekstoken

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// The token format EKS accepts: "k8s-aws-v1." and the unpadded base64url of
// a presigned sts GetCallerIdentity URL that signs the x-k8s-aws-id header
// (aws-iam-authenticator pkg/token/token.go, which EKS runs).
func TestEKSTokenIsAPresignedCallerIdentity(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "session")}
	tok, err := New(cfg, "gsfc-daskhub")(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := strings.CutPrefix(tok, "k8s-aws-v1.")
	if !ok {
		t.Fatalf("token %q lacks the k8s-aws-v1. prefix", tok)
	}
	if strings.ContainsAny(raw, "=+/") {
		t.Errorf("token must be unpadded base64url: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "sts.us-east-1.amazonaws.com" || q.Get("Action") != "GetCallerIdentity" {
		t.Errorf("not a regional GetCallerIdentity: %s", u)
	}
	if q.Get("X-Amz-Expires") != "60" {
		t.Errorf("X-Amz-Expires = %q, want 60", q.Get("X-Amz-Expires"))
	}
	if !strings.Contains(q.Get("X-Amz-SignedHeaders"), "x-k8s-aws-id") {
		t.Errorf("the cluster name header is not signed: %q", q.Get("X-Amz-SignedHeaders"))
	}
	if q.Get("X-Amz-Security-Token") != "session" {
		t.Error("the Lambda role's session token must travel with the token")
	}
}
