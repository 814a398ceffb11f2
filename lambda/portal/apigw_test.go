package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// A real API Gateway HTTP API event (payload 2.0), trimmed.
const postEvent = `{
 "version": "2.0", "routeKey": "$default", "rawPath": "/machines/i-0abc/stop", "rawQueryString": "x=1&y=2",
 "cookies": ["__Host-heliocloud-session=abc", "other=1"],
 "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", "content-type": "application/x-www-form-urlencoded", "origin": "https://abc123.execute-api.us-east-1.amazonaws.com"},
 "requestContext": {"domainName": "abc123.execute-api.us-east-1.amazonaws.com", "http": {"method": "POST", "path": "/machines/i-0abc/stop", "sourceIp": "198.51.100.7"}},
 "body": "Y3NyZj10b2s=", "isBase64Encoded": true
}`

func TestAdapterRoundTrip(t *testing.T) {
	var seen *http.Request
	var body string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1", Secure: true, HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
		w.Header().Set("Location", "/machines")
		w.WriteHeader(http.StatusSeeOther)
	})
	var e events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal([]byte(postEvent), &e); err != nil {
		t.Fatal(err)
	}
	resp, err := serve(context.Background(), h, e)
	if err != nil {
		t.Fatal(err)
	}
	if seen.Method != "POST" || seen.URL.String() != "https://abc123.execute-api.us-east-1.amazonaws.com/machines/i-0abc/stop?x=1&y=2" || seen.Host != "abc123.execute-api.us-east-1.amazonaws.com" {
		t.Errorf("request %s %s host %s", seen.Method, seen.URL, seen.Host)
	}
	if c, err := seen.Cookie("__Host-heliocloud-session"); err != nil || c.Value != "abc" {
		t.Errorf("cookie lost: %v", err)
	}
	if body != "csrf=tok" || seen.Header.Get("Origin") == "" || seen.RemoteAddr != "198.51.100.7" {
		t.Errorf("body %q origin %q remote %q", body, seen.Header.Get("Origin"), seen.RemoteAddr)
	}
	if resp.StatusCode != 303 || resp.Headers["Location"] != "/machines" || !reflect.DeepEqual(resp.Cookies, []string{"a=1; HttpOnly; Secure", "b=2"}) {
		t.Errorf("response %+v", resp)
	}
	if _, ok := resp.Headers["Set-Cookie"]; ok {
		t.Error("Set-Cookie must go in the cookies list, where API Gateway keeps each one")
	}
}

func TestAdapterBinaryBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte{0x89, 'P', 'N', 'G'})
	})
	resp, _ := serve(context.Background(), h, events.APIGatewayV2HTTPRequest{RawPath: "/x", RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}})
	if !resp.IsBase64Encoded || resp.Body != base64.StdEncoding.EncodeToString([]byte{0x89, 'P', 'N', 'G'}) || resp.StatusCode != 200 {
		t.Errorf("binary response %+v", resp)
	}
}

func TestInvokeRejectsUnknownEvents(t *testing.T) {
	f := &function{}
	if _, err := f.invoke(context.Background(), json.RawMessage(`{"detail-type":"something"}`)); err == nil || !strings.Contains(err.Error(), "unknown event") {
		t.Errorf("got %v", err)
	}
	if _, err := f.invoke(context.Background(), json.RawMessage(`{"autostop":"weekly"}`)); err == nil || !strings.Contains(err.Error(), "unknown mode") {
		t.Errorf("got %v", err)
	}
}
