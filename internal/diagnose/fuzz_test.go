package diagnose

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNormalize: the normaliser never panics, never leaves control bytes,
// runs of spaces or edge spaces, and is idempotent.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		faultLine,
		"[ 4778.915423] amdgpu 0000:c6:00.0: amdgpu: [gfxhub0] no-retry page fault",
		"> feb 16 17:33:10 x kernel: amdgpu: [gfxhub] page fault (src_id:0 ring:169 vmid:0 pasid>",
		"\x1b[1;31m**HIP error:** `an illegal memory access`\x1b[0m",
		"2025-12-21T05:01:44.469315+02:00 - on address 0x.... Reason: Unknown",
		"\x1b]0;title\x07\x1b[", "[0;31m[1m", "0x\xe2\x80\xa6", "[Thu Sep 10 14:36:15 2026] ring",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, _ := normalize(nil, raw)
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] == 0x7f {
				t.Fatalf("control byte %#x left in %q", got[i], got)
			}
		}
		if strings.Contains(got, "  ") || strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") {
			t.Fatalf("whitespace not collapsed: %q", got)
		}
		if again, _ := normalize(nil, []byte(got)); len(again) > len(got) {
			t.Fatalf("normalising again grew %q to %q", got, again)
		}
		if ev := evidenceText(raw); len(ev) > maxEvidenceText+3 || (utf8.Valid(raw) && !utf8.ValidString(ev)) {
			t.Fatalf("evidence text %q", ev)
		}
	})
}

// FuzzScan: any input scans without panicking, in one piece or pushed in
// pieces, and both give the same diagnosis; evidence line numbers stay
// within the input.
func FuzzScan(f *testing.F) {
	f.Add([]byte(faultLine+"\nAborted (core dumped)\n"), uint8(3))
	f.Add([]byte("HIP error: an illegal memory access\r\nwas encountered\r\n"), uint8(1))
	f.Add([]byte("\x1f\x8b\x08\x00garbage"), uint8(5))
	f.Add([]byte("HSA_OVERRIDE_GFX_VERSION=1030\nNo HIP GPUs are available"), uint8(2))
	f.Add([]byte("\r\r\n\n> **`\x1b[31m"), uint8(0))
	m, err := New(testKB, Options{Workers: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole := m.ScanBytes(data)
		lines := int64(bytes.Count(data, []byte{'\n'})) + 1
		for _, mt := range whole.Matches {
			for _, l := range mt.Lines {
				if l.N < 1 || l.N > lines {
					t.Fatalf("evidence line %d outside 1..%d", l.N, lines)
				}
			}
		}
		if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
			return // sessions take text only
		}
		s := m.NewSession("")
		n := int(step) + 1
		for i := 0; i < len(data); i += n {
			s.Write(data[i:min(len(data), i+n)])
		}
		if a, b := fmt.Sprint(summary(s.Result())), fmt.Sprint(summary(whole)); a != b {
			t.Fatalf("session %s, scan %s", a, b)
		}
	})
}
