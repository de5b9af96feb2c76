// Package diagnose matches logs against the knowledge base (package kb)
// and reports the known issues they show, best first, with the evidence
// lines and what to do.
//
// # Use
//
//	k, _ := kb.Load()
//	m, _ := diagnose.New(k, diagnose.Options{System: sys}) // sys may be nil
//	res, err := m.Scan(ctx, diagnose.Input{Name: "train.log", R: f})
//	res.WriteText(os.Stdout) // or res.WriteJSON(os.Stdout)
//	os.Exit(res.ExitCode())  // ExitMatch (3) when anything matched, else 0
//
// For a stream that is copied elsewhere as it is produced (a supervised
// child's output), use NewSession and Write, then Result. KernelLog
// streams the machine's kernel log for `diagnose --dmesg`.
//
// # Exit codes
//
// The CLI maps a diagnosis to ExitNoMatch (0, logs read, nothing known
// found), ExitMatch (3, at least one match), ExitError (1, a log could not
// be read) and ExitUsage (2, bad arguments).
//
// # Input
//
// Inputs are streamed in 1 MiB chunks; memory stays constant whatever the
// size of the log. A stream that starts with the gzip magic is
// decompressed. Lines end at '\n' (CRLF included); for matching, '\r' also
// ends a segment, so progress bars that rewrite a line with '\r' are
// matched update by update and a message glued after them is found. At
// most 64 KiB around a candidate are matched in very long lines.
//
// Real logs are noisy. Before matching, a candidate line is normalised:
// terminal escapes (and their remnants without ESC) removed, Markdown quote
// marks, bold and backticks removed, dmesg ("[ 1234.5678]", "[+0.0001]",
// "[Nov19 10:33]"), journalctl/syslog ("Feb 16 17:33:10 host kernel:")
// and ISO timestamp prefixes removed, hand-redacted addresses ("0x....")
// made hex, whitespace collapsed. A message split over two lines is
// matched against the two lines joined (with and without a space), when
// one of the signature's literals is whole in one of them.
//
// # Speed
//
// Signatures are not run on every line. Each has prefilter literals (see
// kb.Pattern); one pass over the raw bytes finds every occurrence of every
// literal case-insensitively (prefilter), in parallel over chunks, and the
// regular expressions run only on the lines that hold one.
//
// # Ranking
//
// A match scores the highest rank among its matched signatures, plus 1 per
// further distinct signature (at most 3), plus 15 when a specialisation's
// context pattern occurs in the log or its hardware fact is read from the
// log (an HSA_OVERRIDE_GFX_VERSION value and the GPU's real target), plus
// 25 when the hardware fact comes from the detected machine. Matches are
// sorted with fallout (process-crash: "Aborted (core dumped)",
// "Segmentation fault") last whatever its score, then by score, then by
// the earliest evidence line (the first error is usually the cause), then
// by id.
package diagnose
