package checks

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestRunTimeoutsAndOrder(t *testing.T) {
	start := time.Now()
	results := Run(context.Background(), []Check{
		{"slow", func(ctx context.Context) (Status, string, error) { <-ctx.Done(); return OK, "", ctx.Err() }},
		{"broken", func(context.Context) (Status, string, error) { panic("boom") }},
		{"erring", func(context.Context) (Status, string, error) { return OK, "", errors.New("access denied") }},
		{"fine", func(context.Context) (Status, string, error) { return pass("all %s", "good") }},
	}, 200*time.Millisecond)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s: checks did not run under their timeout", d)
	}
	want := []Result{
		{"slow", Fail, "no answer within 200ms: context deadline exceeded"},
		{"broken", Fail, "internal error: boom"},
		{"erring", Fail, "access denied"},
		{"fine", OK, "all good"},
	}
	for i, w := range want {
		if results[i] != w {
			t.Errorf("result %d = %+v, want %+v", i, results[i], w)
		}
	}
}

func TestRunConcurrently(t *testing.T) {
	// Two checks that each wait for the other finish only if they run at once.
	a, b := make(chan struct{}), make(chan struct{})
	results := Run(context.Background(), []Check{
		{"a", func(ctx context.Context) (Status, string, error) { close(a); <-b; return pass("") }},
		{"b", func(ctx context.Context) (Status, string, error) { close(b); <-a; return pass("") }},
	}, time.Second)
	for _, r := range results {
		if r.Status != OK {
			t.Errorf("%s: %s %s", r.Name, r.Status, r.Reason)
		}
	}
}

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	failed := Write(&b, []Result{{"credentials", OK, "fine"}, {"cdk bootstrap", Fail, "run npx cdk bootstrap"}, {"ses", Skip, "off"}, {"tags", Warn, "later"}})
	want := "ok    credentials    fine\nFAIL  cdk bootstrap  run npx cdk bootstrap\nskip  ses            off\nwarn  tags           later\n"
	if b.String() != want || !failed {
		t.Errorf("Write = %q (failed %v), want %q (failed true)", b.String(), failed, want)
	}
	b.Reset()
	if Write(&b, []Result{{"a", OK, ""}, {"b", Warn, ""}, {"c", Skip, ""}}) {
		t.Error("warnings and skips count as failures")
	}
}
