package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// testprogPackage is the helper child the supervise and runner tests run.
const testprogPackage = "github.com/rocm-patch/rocm-patch/internal/testutil/testprog"

// BuildTestprog builds the helper child (internal/testutil/testprog) into a
// new temporary folder and returns its path and a function that removes
// the folder. It is a real program, not the test binary run again, so it
// is not slowed by -race and dies of signals and holds pipes the way a
// training process does. Meant for TestMain, where there is no *testing.T.
func BuildTestprog() (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "rocm-patch-testprog-")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "testprog")
	if out, err := exec.Command("go", "build", "-o", path, testprogPackage).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build %s: %w\n%s", testprogPackage, err, out)
	}
	return path, func() { os.RemoveAll(dir) }, nil
}
