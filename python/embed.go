// Package pythonsrc carries the Python half of rocm-patch's in-process shim
// inside the Go binary. The sources stay here, as plain Python that the
// Python tests import directly; internal/shim writes them out for a job.
package pythonsrc

import (
	"embed"
	"io/fs"
)

// The shim folder's layout: sitecustomize.py beside the rocm_patch package.
// Only what a job's interpreter loads is embedded (no tests, no README).
//
//go:embed sitecustomize.py rocm_patch/*.py
var files embed.FS

// FS returns the shim's files, with paths relative to the folder that goes
// first on PYTHONPATH: "sitecustomize.py" and "rocm_patch/*.py".
func FS() fs.FS { return files }
