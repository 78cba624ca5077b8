package verify

import (
	"context"
	"time"
)

// callClock gives a sequence of calls (one worker's) a timeout each without a new context per call: one cancelable
// context serves call after call, and a timer cancels it only when a call overruns; the next call then gets a fresh
// one. A context.WithTimeout per call cost about 5% of the load test's throughput (measured by
// BenchmarkVerifierAgainstPlainLoop), most of it registering and unregistering with the parent.
type callClock struct {
	parent  context.Context
	timeout time.Duration
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer
}

func newCallClock(parent context.Context, timeout time.Duration) *callClock {
	return &callClock{parent: parent, timeout: timeout}
}

// start begins a call: its context ends when the parent's does or the timeout passes.
func (c *callClock) start() context.Context {
	if c.ctx == nil {
		ctx, cancel := context.WithCancelCause(c.parent)
		c.ctx, c.cancel = ctx, cancel
		// The cause is what the transport reports (net/http returns context.Cause), so a call that ran out of time
		// fails with DeadlineExceeded as under context.WithTimeout.
		c.timer = time.AfterFunc(c.timeout, func() { cancel(context.DeadlineExceeded) })
		return ctx
	}
	c.timer.Reset(c.timeout)
	return c.ctx
}

// stop ends a call and reports whether its time ran out; a context the timer cancelled is not used again.
func (c *callClock) stop() (expired bool) {
	if c.timer.Stop() {
		return false
	}
	c.release()
	return true
}

// release lets go of the current context (and its place among the parent's children).
func (c *callClock) release() {
	if c.ctx != nil {
		c.timer.Stop()
		c.cancel(context.Canceled)
		c.ctx = nil
	}
}

// timeoutError marks a call's error as its timeout's doing, whichever layer (dialer, transport, body read) noticed
// the cancellation first and however it worded it.
type timeoutError struct{ err error }

func (e timeoutError) Error() string        { return e.err.Error() }
func (e timeoutError) Unwrap() error        { return e.err }
func (e timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }
func (e timeoutError) Timeout() bool        { return true }
