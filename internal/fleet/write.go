package fleet

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rocm-patch/rocm-patch/internal/atomicfile"
)

// writeInto replaces dir/name with data. atomicfile writes a hidden
// ".<name>.tmp-*" file in dir and renames it: hidden files are what NFD
// skips, and node_exporter reads only names ending in .prom, so neither
// ever reads a partial file. what names the folder in errors.
func writeInto(dir, what, name string, data []byte) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, dir, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s %s: not a folder", what, dir)
	}
	path := filepath.Join(dir, name)
	// World-readable: node_exporter and nfd-worker may run as other users.
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("%s %s: %w", what, dir, err)
	}
	return path, nil
}
