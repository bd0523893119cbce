package ctas

// Retries of throttled AWS calls and the invocation's deadline: every call the runner and the
// sweep make goes through retry, and every wait stops StopMargin before ctx's deadline.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/smithy-go"
)

// retryFunc is Runner.retry, as the publisher holds it.
type retryFunc func(ctx context.Context, op string, fn func(context.Context) error) error

// retry calls fn until it succeeds, fails with a non-throttling error, runs out of attempts, or
// the deadline margin leaves no time to wait (full-jitter exponential backoff).
func (r *Runner) retry(ctx context.Context, op string, fn func(context.Context) error) error {
	var err error
	for attempt := 0; attempt < r.cfg.RetryAttempts; attempt++ {
		if err = fn(ctx); err == nil || !isThrottle(err) {
			return err
		}
		if attempt == r.cfg.RetryAttempts-1 {
			break
		}
		ceiling := min(r.cfg.RetryBase<<attempt, r.cfg.RetryMax)
		if ceiling <= 0 { // shifted past the int64 range
			ceiling = r.cfg.RetryMax
		}
		wait := time.Duration(rand.Int64N(int64(ceiling) + 1))
		r.cfg.Logger.Debug("ctas: throttled, retrying", "op", op, "attempt", attempt+1, "wait", wait.String())
		if serr := r.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%s: %w after %d attempts; last: %w", op, serr, attempt+1, err)
		}
	}
	return fmt.Errorf("%s: %w after %d attempts: %w", op, ErrThrottled, r.cfg.RetryAttempts, err)
}

// retried is retry for a call that returns a value: the value of the attempt that succeeded.
func retried[T any](ctx context.Context, retry retryFunc, op string, call func(context.Context) (T, error)) (T, error) {
	var v T
	err := retry(ctx, op, func(ctx context.Context) error {
		var err error
		v, err = call(ctx)
		return err
	})
	return v, err
}

// throttleCodes are the error codes retried with backoff: Athena's and Glue's rate limits, and
// Glue's optimistic-locking conflict on concurrent catalog updates.
var throttleCodes = map[string]bool{
	"TooManyRequestsException":        true,
	"ThrottlingException":             true,
	"Throttling":                      true,
	"RequestLimitExceeded":            true,
	"SlowDown":                        true,
	"ConcurrentModificationException": true,
}

// isThrottle reports whether err is a service error that retry waits out.
func isThrottle(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && throttleCodes[ae.ErrorCode()]
}

// hasCode reports whether err is a service error with the given code.
func hasCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// stopAt is when the runner must give up: StopMargin before ctx's deadline.
func (r *Runner) stopAt(ctx context.Context) (time.Time, bool) {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Time{}, false
	}
	return d.Add(-r.cfg.StopMargin), true
}

// sleep waits d, or less if the deadline margin comes first (then ErrDeadline), or ctx ends.
func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if at, ok := r.stopAt(ctx); ok {
		left := at.Sub(r.now())
		if left <= 0 {
			return fmt.Errorf("%w (stop margin %s)", ErrDeadline, r.cfg.StopMargin)
		}
		if left < d {
			d = left
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
	}
	if at, ok := r.stopAt(ctx); ok && !r.now().Before(at) {
		return fmt.Errorf("%w (stop margin %s)", ErrDeadline, r.cfg.StopMargin)
	}
	return nil
}
