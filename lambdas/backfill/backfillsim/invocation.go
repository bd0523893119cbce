package backfillsim

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errCrashed answers every AWS call of an invocation that has died: nothing leaves a dead Lambda.
var errCrashed = errors.New("backfillsim: the invocation has died; its calls never reach AWS")

// invocation is one worker invocation as AWS sees it. The stand-in's clients find it in the
// call's context (the runner's cleanup calls keep the context's values), so that once it dies no
// call of it takes effect: not the next KPI, not the runner's StopQueryExecution or DeleteTable.
type invocation struct {
	mu       sync.Mutex
	calls    int
	crashAt  int  // the call at which it dies; 0: it does not (before its end, see esm.invoke)
	after    bool // it dies once call crashAt has taken effect (the response is lost), not before
	deadline time.Time
	dead     bool
	timedOut bool
	cancel   context.CancelFunc
}

type invocationKey struct{}

func withInvocation(ctx context.Context, inv *invocation) context.Context {
	return context.WithValue(ctx, invocationKey{}, inv)
}

func invocationOf(ctx context.Context) *invocation {
	inv, _ := ctx.Value(invocationKey{}).(*invocation)
	return inv
}

// begin is called before a call takes effect. It returns the call's number, or errCrashed if the
// invocation is dead, has passed its deadline (Lambda killed it) or dies now.
func (inv *invocation) begin() (int, error) {
	if inv == nil {
		return 0, nil
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.dead {
		return 0, errCrashed
	}
	if !time.Now().Before(inv.deadline) {
		inv.timedOut = true
		inv.dieLocked()
		return 0, errCrashed
	}
	inv.calls++
	if inv.calls == inv.crashAt && !inv.after {
		inv.dieLocked()
		return 0, errCrashed
	}
	return inv.calls, nil
}

// end is called after call n took effect; errCrashed means the invocation died before it saw the
// response.
func (inv *invocation) end(n int) error {
	if inv == nil {
		return nil
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if n == inv.crashAt && inv.after {
		inv.dieLocked()
	}
	if inv.dead {
		return errCrashed
	}
	return nil
}

// die kills the invocation (at its end, if the crash point was past its last call).
func (inv *invocation) die() {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.dieLocked()
}

func (inv *invocation) dieLocked() {
	inv.dead = true
	inv.cancel()
}

func (inv *invocation) isDead() (dead, timedOut bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.dead, inv.timedOut
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
