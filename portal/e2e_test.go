package portal_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/chromedp/chromedp"

	"github.com/heliocloud/heliocloud-go/internal/testtool"
	"github.com/heliocloud/heliocloud-go/portal"
)

// chromium finds the browser: env CHROMIUM, else PATH.
func chromium(t *testing.T) string {
	t.Helper()
	return testtool.Need(t, "CHROMIUM", "chromium", "chromium-browser", "google-chrome")
}

func newBrowser(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		// The portal is served over TLS with httptest's own certificate.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(width, height),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// The first run starts the browser and ties it to ctx, which must not
	// carry the per-step timeouts.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// shot saves a screenshot of the viewport when PORTAL_SCREENSHOTS names a
// directory (docs/images/portal); the docs are made this way.
func shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		dir := os.Getenv("PORTAL_SCREENSHOTS")
		if dir == "" {
			return nil
		}
		buf, err := chromedp.FullScreenshot(100)(ctx, t) // quality 100 means PNG
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

func mustRun(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	// Each step gets its own bound, so that a missing element fails with
	// the page it was missing from; a minute, because a step of several
	// page loads took over 20 s on a heavily loaded CI machine.
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s (at %s): %v\npage:\n%s", step, loc, err, body)
	}
}

func signInBrowser(t *testing.T, ctx context.Context, base, user, password string) {
	mustRun(t, ctx, "sign in as "+user,
		chromedp.Navigate(base+"/"),
		chromedp.Click(chromedp.CSS(`a[href="/login"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		shot("signin"),
		chromedp.SendKeys(chromedp.CSS(`#username`), user),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`#signin`)),
		chromedp.WaitVisible(chromedp.CSS(`header a[href="/launch"]`)),
	)
}

// TestBrowserEndToEnd drives the real handler in Chromium: sign-in
// through the OIDC provider, a key, a launch with its estimate, stop,
// terminate, the costs page, the admin page and sign-out.
func TestBrowserEndToEnd(t *testing.T) {
	e := hubEnv(t, portal.Options{})
	e.aws.addPoolUser("carol", "carol@example.org", false, "pending")
	ctx := newBrowser(t, 1100, 760)
	base := e.srv.URL

	signInBrowser(t, ctx, base, "alice", "alice-pw")
	if got := text(t, ctx, "main"); !strings.Contains(got, "You have no machines yet") {
		t.Fatalf("landing page: %s", got)
	}

	mustRun(t, ctx, "create a key",
		chromedp.Navigate(base+"/keys"),
		chromedp.SendKeys(chromedp.CSS(`#keyname`), "laptop"),
		chromedp.Click(chromedp.CSS(`form[action="/keys"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#material`)),
		shot("key-created"),
	)
	material, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#material`)))
	if err != nil {
		t.Fatal(err)
	}
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#download`), "download"))
	if err != nil {
		t.Fatal(err)
	}
	download := attr.Value
	if !strings.Contains(material, "fake-laptop") || download != "laptop.pem" {
		t.Errorf("new key page: material %q download %q", material, download)
	}
	mustRun(t, ctx, "list keys", chromedp.Navigate(base+"/keys"), chromedp.WaitVisible(chromedp.CSS(`#k-laptop`)), shot("keys"))

	mustRun(t, ctx, "estimate",
		chromedp.Navigate(base+"/launch"),
		chromedp.SendKeys(chromedp.CSS(`#name`), "flare-study"),
		chromedp.SetValue(chromedp.CSS(`#type`), "m7i.large"),
		chromedp.SetValue(chromedp.CSS(`#key`), "laptop"),
		chromedp.Click(chromedp.CSS(`button[value="estimate"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#estimate`)),
		shot("launch"),
	)
	if est := text(t, ctx, "#estimate"); !strings.Contains(est, "$0.1008 per running hour") {
		t.Errorf("estimate: %s", est)
	}
	mustRun(t, ctx, "launch",
		chromedp.Click(chromedp.CSS(`button[value="launch"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	if len(e.aws.instances) != 1 {
		t.Fatalf("%d machines after one launch", len(e.aws.instances))
	}
	var id string
	for k := range e.aws.instances {
		id = k
	}
	rowSel := "#m-" + id
	e.clk.Add(90 * time.Minute)
	mustRun(t, ctx, "machines", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(rowSel)), shot("machines"))
	row := text(t, ctx, rowSel)
	for _, want := range []string{"flare-study", "running", "m7i.large", "1h 30m", "$0.15", "aws ssm start-session --region us-east-1 --target " + id} {
		if !strings.Contains(row, want) {
			t.Errorf("machine row lacks %q: %s", want, row)
		}
	}
	run := e.aws.called("RunInstances")
	if len(run) != 1 || run[0].Creds != "ASIA-sub-alice" {
		t.Fatalf("RunInstances: %+v", run)
	}
	if tags := run[0].Input.(*ec2.RunInstancesInput).TagSpecifications[0].Tags; tagOf(tags, "heliocloud:owner") != "sub-alice" || tagOf(tags, "heliocloud:instance") != "test" {
		t.Errorf("launch tags %v", tags)
	}

	mustRun(t, ctx, "stop",
		chromedp.Click(chromedp.CSS(rowSel+` form[action$="/stop"] button`)),
		chromedp.WaitVisible(chromedp.CSS(rowSel+` form[action$="/start"]`)),
	)
	if s := text(t, ctx, rowSel+" .state"); s != "stopped" {
		t.Errorf("after stop the state is %q", s)
	}
	mustRun(t, ctx, "terminate",
		chromedp.Click(chromedp.CSS(rowSel+` form[action$="/terminate"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-terminate`)),
		shot("terminate"),
		chromedp.Click(chromedp.CSS(`#confirm-terminate`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	if got := text(t, ctx, "main"); !strings.Contains(got, "Terminating flare-study.") || !strings.Contains(got, "You have no machines yet") {
		t.Errorf("after terminate: %s", got)
	}
	for _, api := range []string{"StopInstances", "TerminateInstances"} {
		c := e.aws.called(api)
		if len(c) != 1 || c[0].Creds != "ASIA-sub-alice" {
			t.Errorf("%s: %+v", api, c)
		}
	}
	if got := e.aws.called("TerminateInstances")[0].Input.(*ec2.TerminateInstancesInput).InstanceIds; len(got) != 1 || got[0] != id {
		t.Errorf("terminated %v", got)
	}

	mustRun(t, ctx, "costs", chromedp.Navigate(base+"/costs"), chromedp.WaitVisible(chromedp.CSS(`#cost-month`)), shot("costs"))
	if got := text(t, ctx, "#cost-month"); got != "$12.50" {
		t.Errorf("this month: %q", got)
	}
	// The charts are drawn by the browser under the page's
	// Content-Security-Policy: bars of the fake's equal costs, full height.
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll("svg.chart rect")].map(r => r.getBoundingClientRect().height)`))
	if err != nil {
		t.Fatalf("cost charts: %v", err)
	}
	if len(bars) != 7+12 || bars[0] < 20 || bars[0] != bars[6] {
		t.Errorf("cost chart bars drawn %v px high, want 19 equal bars", bars)
	}

	mustRun(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`header form button`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)))
	if e.idp.HostedSessions() != 0 {
		t.Error("the provider session survived sign-out")
	}

	signInBrowser(t, ctx, base, "root", "root-pw")
	mustRun(t, ctx, "admin", chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(chromedp.CSS(`#p-carol`)), shot("admin"),
		chromedp.Click(chromedp.CSS(`#p-carol form[action$="/approve"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	)
	if c := e.aws.called("AdminEnableUser"); len(c) != 1 || aws.ToString(c[0].Input.(*cip.AdminEnableUserInput).Username) != "carol" {
		t.Errorf("AdminEnableUser: %+v", c)
	}
	mustRun(t, ctx, "admin costs", chromedp.Navigate(base+"/costs"), chromedp.WaitVisible(chromedp.CSS(`#users-month`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart[aria-label^="Cost per user"] rect`)),
		chromedp.WaitVisible(chromedp.CSS(`#hub-users-month`)), chromedp.WaitVisible(chromedp.CSS(`#total-users-month`)), shot("costs-admin"))
	// DaskHub's charts as the browser draws them: each bar's height in
	// proportion to the fake's costs (days 3, 4 and 10 cost $7.50, $3.75
	// and $0.75; months 2026-09 and 2026-11 $10.50 and $12.00).
	heights := func(title string) []float64 {
		h, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll('svg.chart[aria-label="`+title+`"] rect')].map(r => r.getBoundingClientRect().height)`))
		if err != nil {
			t.Fatalf("%s: %v", title, err)
		}
		return h
	}
	near := func(a, b float64) bool { return a-b < 0.5 && b-a < 0.5 }
	if d := heights("DaskHub cost per day this month"); len(d) != 25 || d[2] < 20 || !near(d[3], d[2]/2) || !near(d[9], d[2]/10) || d[0] != 0 {
		t.Errorf("DaskHub days chart bars drawn %v px high", d)
	}
	if m := heights("DaskHub cost per month, last 12 months"); len(m) != 12 || m[11] < 20 || !near(m[9], m[11]*0.875) || m[0] != 0 {
		t.Errorf("DaskHub months chart bars drawn %v px high", m)
	}
	if u := heights("Machines and DaskHub per user this month, largest first"); len(u) != 4 || u[0] < 20 || !near(u[1], u[0]*5.25/18.5) {
		t.Errorf("totals per user chart bars drawn %v px high", u)
	}
	if got := text(t, ctx, "#total-users-month tbody tr:first-child"); !strings.Contains(got, "alice") || !strings.Contains(got, "$18.50") {
		t.Errorf("first row of machines and DaskHub per user: %q", got)
	}
}

// TestBrowserPhoneLayout checks that the machines page fits a phone
// screen without sideways scrolling.
func TestBrowserPhoneLayout(t *testing.T) {
	e := newEnv(t)
	ctx := newBrowser(t, 390, 844)
	mustRun(t, ctx, "phone screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(1)))
	signInBrowser(t, ctx, e.srv.URL, "alice", "alice-pw")
	e.addMachine("i-0000000000000abc", "alice", "test", "running")
	mustRun(t, ctx, "phone machines", chromedp.Navigate(e.srv.URL+"/machines"), chromedp.WaitVisible(chromedp.CSS(`#m-i-0000000000000abc`)), shot("machines-phone"))
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Error("the machines page scrolls sideways on a phone")
	}
}
