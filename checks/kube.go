package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/heliocloud/heliocloud-go/daskhub/hubcheck/ekstoken"
)

// eksToken is a bearer token for the Kubernetes API of cluster, from the
// admin's credentials, made as the deploy check makes its own
// (ekstoken.New, aws-iam-authenticator v0.7.18's format). The URL is
// signed for STS's regional endpoint in region: the authenticator sends it
// there, so a test endpoint must not leak into it.
func eksToken(ctx context.Context, cfg aws.Config, region, cluster string) (string, error) {
	cfg = cfg.Copy()
	cfg.Region, cfg.BaseEndpoint = region, nil
	token, err := ekstoken.New(cfg, cluster)(ctx)
	if err != nil {
		return "", fmt.Errorf("signing an EKS token: %w", err)
	}
	return token, nil
}

// kube is a minimal client of one cluster's Kubernetes API: GETs with the
// admin's EKS token, trusting only the cluster's own CA.
type kube struct {
	endpoint string
	token    string
	client   *http.Client
}

func newKube(endpoint, caData, token string) (*kube, error) {
	pem, err := base64.StdEncoding.DecodeString(caData)
	if err != nil {
		return nil, fmt.Errorf("the cluster's certificate authority: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the cluster's certificate authority holds no PEM certificate")
	}
	return &kube{
		endpoint: strings.TrimSuffix(endpoint, "/"),
		token:    token,
		client: &http.Client{
			Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// get fetches path (with its query) and returns the status, headers and
// at most 1 MiB of the body.
func (k *kube) get(ctx context.Context, path string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.endpoint+path, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.token)
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, body, err
}

// serviceProxy is the API server's path to a service's port: what the
// cluster's pods reach at http://<service>.<namespace>:<port>/<path>.
func serviceProxy(namespace, service, port, path string) string {
	return "/api/v1/namespaces/" + namespace + "/services/" + service + ":" + port + "/proxy" + path
}
