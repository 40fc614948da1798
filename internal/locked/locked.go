// Package locked runs functions on a goroutine locked to its OS thread. libtorch keeps grad
// mode and autocast state per OS thread, so all tensor work of one loop must stay on one
// thread; goroutines otherwise migrate between threads.
package locked

import "runtime"

// Run runs f on a new goroutine locked to its OS thread and waits for it. A panic in f is
// re-raised in the caller; runtime.Goexit in f (e.g. testing.T.FailNow) just ends the wait.
func Run(f func()) {
	done := make(chan any, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: it may carry thread-local libtorch state, so it is
		// discarded when the goroutine exits instead of returning to Go's pool.
		finished := false
		defer func() {
			if !finished {
				done <- recover()
			}
		}()
		f()
		finished = true
		done <- nil
	}()
	if p := <-done; p != nil {
		panic(p)
	}
}
