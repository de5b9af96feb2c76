package testutil

import (
	"sync"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/kb"
)

var (
	kbOnce   sync.Once
	loadedKB *kb.KB
	kbErr    error
)

// KB returns the embedded knowledge base, loaded once per test binary:
// many tests need it and none changes it.
func KB(t testing.TB) *kb.KB {
	t.Helper()
	kbOnce.Do(func() { loadedKB, kbErr = kb.Load() })
	if kbErr != nil {
		t.Fatal(kbErr)
	}
	return loadedKB
}
