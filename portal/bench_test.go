package portal_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/heliocloud/heliocloud-go/portal"
)

// BenchmarkMachinesPage measures one My machines page for a user with ten
// machines, served by the handler directly (no network), with the AWS
// boundary answering from memory: the portal's own cost per request.
func BenchmarkMachinesPage(b *testing.B) {
	e := newEnv(b)
	for i := range 10 {
		e.addMachine(fmt.Sprintf("i-%017d", 100+i), "alice", "test", types.InstanceStateNameRunning)
	}
	a, _, _ := e.signIn("alice", "alice-pw")
	u, _ := url.Parse(e.srv.URL)
	h := e.srv.Config.Handler
	cookies := a.c.Jar.Cookies(u)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, e.srv.URL+"/machines", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkLaunch measures a whole launch request (validation, limits,
// image and price look-ups, RunInstances) against the in-memory boundary.
func BenchmarkLaunch(b *testing.B) {
	e := newEnv(b, func(c *portal.Config) { c.MaxRunning = 1 << 30; c.MonthlySpendLimit = 0 })
	a, _, tok := e.signIn("alice", "alice-pw")
	u, _ := url.Parse(e.srv.URL)
	h := e.srv.Config.Handler
	cookies := a.c.Jar.Cookies(u)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		// Each launch starts from an empty account, so the numbers do not
		// grow with the machines earlier iterations made.
		b.StopTimer()
		e.aws.mu.Lock()
		clear(e.aws.instances)
		e.aws.calls = nil
		e.aws.mu.Unlock()
		b.StartTimer()
		n++
		form := launchForm(tok, "token", fmt.Sprintf("bench-token-%010d", n))
		req := httptest.NewRequest(http.MethodPost, e.srv.URL+"/launch", nil)
		req.PostForm = form
		for _, c := range cookies {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusSeeOther {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
