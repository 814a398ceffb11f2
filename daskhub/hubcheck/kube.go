// Package hubcheck tells whether a deployed DaskHub works, and why not: it
// asks the Kubernetes API whether the hub, the gateway, the autoscaler and
// the device plugin are available, calls the hub's and the gateway's APIs
// through the Kubernetes service proxy, and, when something is wrong, names
// the component, its pods' states and their last log lines.
//
// It also removes what Kubernetes made in AWS on a stack's behalf (the hub's
// load balancer and its security groups) before the cluster goes away.
//
// The deploy's custom resource (lambda/hubcheck) runs it; it imports no CDK.
package hubcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client is a small Kubernetes API client: GET and DELETE of JSON objects and
// pod logs, with a bearer token minted per request.
type Client struct {
	// BaseURL is the API server, such as https://ABC.gr7.us-east-1.eks.amazonaws.com.
	BaseURL string
	// HTTP carries the requests; it trusts the cluster's certificate authority.
	HTTP *http.Client
	// Token returns a bearer token; EKS tokens expire within minutes, so
	// it is called for every request.
	Token func(ctx context.Context) (string, error)
}

// apiError is an answer of the API server other than 2xx.
type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Body)
}

// isNotFound tells whether err is the API server's 404.
func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// do sends one request and returns the body of a 2xx answer.
func (c *Client) do(ctx context.Context, method, path string, query url.Values) ([]byte, error) {
	u := strings.TrimSuffix(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != nil {
		tok, err := c.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("token for the Kubernetes API: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// Bodies of errors and logs are cut short: the caller shows only a few lines.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, &apiError{Status: resp.StatusCode, Body: apiMessage(body)}
	}
	return body, nil
}

// apiMessage is the message of a Kubernetes Status body, or the body's start.
func apiMessage(body []byte) string {
	var st struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Message != "" {
		return st.Message
	}
	return clip(strings.TrimSpace(string(body)), 300)
}

func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	body, err := c.do(ctx, http.MethodGet, path, query)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// clip shortens s to at most n bytes, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
