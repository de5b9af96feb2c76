// Package kb is rocm-patch's knowledge base: the known failures of ROCm
// and PyTorch on AMD GPUs, and the settings (amdgpu parameters, ROCm and
// PyTorch variables, rocm-patch's own policy) that mitigations refer to.
//
// # Data
//
// Everything is data embedded in the binary, one source of truth each:
//
//   - entries/<id>.md: one known issue per file, a Markdown document whose
//     YAML front matter (between "---" lines) is an [Entry]: id, title,
//     class, applies_to, signatures (regular expressions with a specificity
//     rank), root_cause, mitigations, references. The Markdown body is the
//     human document.
//   - settings.yaml: the settings catalogue, one [Setting] per knob of the
//     project's research notes: what it really does, its values and
//     defaults, when setting it changes nothing ([Setting.NoOpWhen]), what it
//     costs, where that is written, and what earlier write-ups claimed
//     wrongly about it.
//
// Later data files sit beside settings.yaml. The retry ladder and the
// kernel profiles refer to settings the same way mitigations do, with a
// [SettingValue] (setting id plus value or unset), so one validator and one
// renderer serve them all. The training recipes (recipes.yaml) hold
// framework arguments instead (batch=8, amp=False), which no setting of
// the catalogue describes; each says why and what it costs.
//
// # Loading
//
// [Load] parses and validates the embedded set; [LoadFS] does the same for
// any fs.FS laid out alike (tests use it). Validation is complete: an
// unknown class, a duplicate id, a bad regular expression, a signature with
// no literal to prefilter on, a mitigation naming an unknown setting, an
// empty title, an unknown front-matter field: each fails the load with an
// error naming the file and the field. A KB is immutable after loading and
// safe for concurrent use.
//
// # Rendering
//
// [Entry.Render] prints one entry for a terminal, the way `rustc --explain`
// prints an error code. [KB.Docs] produces docs/issues/ (an index and one
// page per entry); `go generate ./internal/kb` writes them and a test fails
// when the committed pages are stale.
//
// # Loading fast
//
// rocm-patch run loads the knowledge base in front of every job, so the
// embedded files are not decoded from YAML at run time: predecoded_gen.go
// holds the decoder's result for each, used when a file's SHA-256 matches
// (see decodeStrict), and their patterns are compiled on first use. Both
// are checked by the tests; `go generate ./internal/kb` rewrites the file
// after an edit, and a test fails while it is stale.
package kb

//go:generate go run ./internal/gendocs -out ../../docs/issues
//go:generate go test . -run TestPredecodedIsCurrent -update
