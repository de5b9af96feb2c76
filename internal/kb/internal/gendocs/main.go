// Command gendocs writes docs/issues/ from the knowledge base: the index
// README.md and one page per entry. It is run by `go generate
// ./internal/kb`; the kb tests fail when its output and the committed
// pages differ. Pages of entries that no longer exist are removed;
// TEMPLATE.md and other hand-written files are left alone.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/kb"
)

func main() {
	out := flag.String("out", "docs/issues", "directory to write the pages into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	k, err := kb.Load()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, f := range k.Docs() {
		want[f.Name] = true
		path := filepath.Join(dir, f.Name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, f.Content) {
			continue
		}
		if err := os.WriteFile(path, f.Content, 0o644); err != nil {
			return err
		}
	}
	stale, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return err
	}
	for _, path := range stale {
		if want[filepath.Base(path)] {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// Only generated pages are ours to remove.
		if strings.HasPrefix(string(data), kb.GeneratedMarker) {
			if err := os.Remove(path); err != nil {
				return err
			}
		}
	}
	return nil
}
