// Package report turns the sums of a user's own run history into the
// comparison `rocm-patch report` prints: per configuration (layers applied
// x device), attempts, crashes, crash rate with a 95% Wilson interval,
// mean time to failure and GPU-versus-CPU speedup; as JSON
// (rocm-patch/report/v1), a terminal table, Markdown, or one
// self-contained HTML page with an inline SVG chart. It also reads the
// speed a job reports in its output (ParseThroughput, Meter) and renders
// the `rocm-patch history` listing.
//
// The package is pure: it takes history.Stats and history.Run values and
// writes to an io.Writer; it never opens the database.
package report
