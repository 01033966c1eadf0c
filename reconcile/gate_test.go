package reconcile

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/gitopsd/gitopsd/outcome"
)

// TestGateEnds: a release waiting at a gate goes on when promoted, stops when aborted, and
// stops waiting, undecided, once the daemon is stopping; Promote says when nothing waits.
func TestGateEnds(t *testing.T) {
	r := New(Options{})
	wait := func() <-chan error {
		got := make(chan error, 1)
		go func() {
			ok, err := r.gate(context.Background(), "shop/prod", "c1")
			if err == nil && !ok {
				err = errors.New("aborted")
			}
			got <- err
		}()
		return got
	}
	// promote until the gate is there to take it.
	send := func(promote bool) {
		for r.Promote("shop", "prod", promote) != nil {
			runtime.Gosched()
		}
	}

	got := wait()
	send(true)
	if err := <-got; err != nil {
		t.Errorf("promoted: %v", err)
	}
	got = wait()
	send(false)
	if err := <-got; err == nil || err.Error() != "aborted" {
		t.Errorf("aborted: %v", err)
	}
	if err := r.Promote("shop", "prod", true); err == nil {
		t.Error("promote with no release waiting must fail")
	}

	got = wait()
	r.Stopping()
	r.Stopping() // twice is harmless: SIGTERM and a second signal
	if err := <-got; !errors.Is(err, errStopping) {
		t.Errorf("stopping: %v", err)
	}
	res := Result{}.failed(&stepError{outcome: outcome.Waiting, plain: true, err: errStopping})
	if res.Outcome != outcome.Waiting || res.Summary != errStopping.Error() || res.Retry {
		t.Errorf("a release cut by the stop is reported plainly and not retried: %+v", res)
	}
}
