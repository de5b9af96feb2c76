package runner

import (
	"sync"

	"github.com/rocm-patch/rocm-patch/internal/diagnose"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

// compileMatcher returns a function that compiles the diagnosis matcher
// the first time it is called. Compiling takes about a millisecond of CPU,
// which at start-up competed with the child for the cores; it is needed
// only once the child has written something to scan or has failed, so a
// job that succeeds quietly never pays for it.
func compileMatcher(k *kb.KB, sys *system.System) func() (*diagnose.Matcher, error) {
	return sync.OnceValues(func() (*diagnose.Matcher, error) {
		return diagnose.New(k, diagnose.Options{System: sys})
	})
}

// lazySession is an attempt's diagnosis session, started when the first
// output arrives or when the attempt has failed, whichever comes first.
// Only the supervisor's line goroutine writes, and result is called after
// it has finished, so there is no locking.
type lazySession struct {
	r      *runner
	name   string
	s      *diagnose.Session
	failed bool
}

func (l *lazySession) session() *diagnose.Session {
	if l.s == nil && !l.failed {
		m, err := l.r.matcher()
		if err != nil {
			// The embedded knowledge base is tested to compile; a
			// failure here leaves the attempt undiagnosed, not the job
			// unsupervised.
			l.failed = true
			l.r.warn("cannot diagnose %s: %v", l.name, err)
			return nil
		}
		l.s = m.NewSession(l.name)
	}
	return l.s
}

// Write passes p to the session; without a matcher it is dropped.
func (l *lazySession) Write(p []byte) (int, error) {
	if s := l.session(); s != nil {
		return s.Write(p)
	}
	return len(p), nil
}

// result finishes the session; nil when there is no matcher.
func (l *lazySession) result() *diagnose.Result {
	if s := l.session(); s != nil {
		return s.Result()
	}
	return nil
}
