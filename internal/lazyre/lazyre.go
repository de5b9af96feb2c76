// Package lazyre holds regular expressions that are compiled on first use.
//
// A package-level regexp.MustCompile runs when the program starts, in every
// command. rocm-patch run starts in front of every training job, so the
// patterns of commands it does not run (kernel, snapshot, fleet, report)
// should not be compiled, nor their pages touched, before the job starts.
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr the first time it is called
// and returns the same *regexp.Regexp ever after. Like MustCompile, it
// panics if expr does not compile; expr is a constant of the program,
// which that package's tests compile.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
