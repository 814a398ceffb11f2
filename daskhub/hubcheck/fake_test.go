package hubcheck

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// fakeAPI is a Kubernetes API server at the HTTP boundary: it answers
// from routes ("METHOD /path" -> handler) and records every request.
type fakeAPI struct {
	t      *testing.T
	mu     sync.Mutex
	routes map[string]func(r *http.Request) (int, string)
	seen   []*http.Request
}

func newFake(t *testing.T) (*fakeAPI, *Client) {
	f := &fakeAPI{t: t, routes: map[string]func(*http.Request) (int, string){}}
	srv := httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, &Client{BaseURL: srv.URL, HTTP: srv.Client(), Token: func(context.Context) (string, error) { return "k8s-aws-v1.test", nil }}
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, r)
	h := f.routes[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer k8s-aws-v1.test" {
		f.t.Errorf("%s %s: Authorization %q, want the bearer token", r.Method, r.URL.Path, r.Header.Get("Authorization"))
	}
	if h == nil {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","code":404}`))
		return
	}
	code, body := h(r)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write([]byte(body))
}

// on answers method path with code and body.
func (f *fakeAPI) on(method, path string, code int, body string) {
	f.routes[method+" "+path] = func(*http.Request) (int, string) { return code, body }
}

// requests lists the requests received as "METHOD path?query".
func (f *fakeAPI) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.seen {
		s := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			s += "?" + r.URL.Query().Encode()
		}
		out = append(out, s)
	}
	return out
}

func (f *fakeAPI) count(method, path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.seen {
		if r.Method == method && r.URL.Path == path {
			n++
		}
	}
	return n
}
