package hw

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ so that a plain
// `go test` replays them; the f.Add calls below only cover the basics.

func FuzzParseOverride(f *testing.F) {
	for _, s := range []string{"10.3.0", "1030", "", "9.0.12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseOverride(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedOverride) {
				t.Fatalf("ParseOverride(%q) error %v does not wrap ErrMalformedOverride", s, err)
			}
			return
		}
		if v.Major < 0 || v.Major > maxOverrideMajor || v.Minor < 0 || v.Minor > maxOverrideMinor ||
			v.Stepping < 0 || v.Stepping > maxOverrideStep {
			t.Fatalf("ParseOverride(%q) = %+v, outside libhsakmt's limits", s, v)
		}
		// The canonical spelling of an accepted value parses to the same.
		again, err := ParseOverride(v.String())
		if err != nil || again != v {
			t.Fatalf("ParseOverride(%q) = %+v, but its String %q gives %+v, %v", s, v, v.String(), again, err)
		}
	})
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"gfx1031", "gfx90a:xnack-", "gfx10-3-generic", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseTarget(s)
		// These must never panic, whatever the name.
		fam := FamilyOf(s)
		gen := GenericISA(s)
		apu, known := KnownAPU(s)
		_ = SameGenericFamily(s, "gfx1030")
		if err != nil {
			if !errors.Is(err, ErrBadTarget) {
				t.Fatalf("ParseTarget(%q) error %v does not wrap ErrBadTarget", s, err)
			}
			if fam != Unknown || gen != "" || apu || known {
				t.Fatalf("%q does not parse but the ISA table knows it", s)
			}
			return
		}
		name, err := v.Target()
		if err != nil {
			t.Fatalf("ParseTarget(%q) = %+v, which has no name: %v", s, v, err)
		}
		if name != canonicalTarget(s) {
			t.Fatalf("ParseTarget(%q) names %q, want %q", s, name, canonicalTarget(s))
		}
		if !SameGenericFamily(s, name) {
			t.Fatalf("%q is not in its own family", s)
		}
	})
}

func FuzzFromTargetVersion(f *testing.F) {
	for _, v := range []uint64{0, 90010, 100301, 120001, 1 << 63} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, raw uint64) {
		v, err := FromTargetVersion(raw)
		if err != nil {
			if !errors.Is(err, ErrNoTarget) {
				t.Fatalf("FromTargetVersion(%d) error %v does not wrap ErrNoTarget", raw, err)
			}
			return
		}
		if uint64(v.Major)*10000+uint64(v.Minor)*100+uint64(v.Stepping) != raw {
			t.Fatalf("FromTargetVersion(%d) = %+v does not encode back", raw, v)
		}
		name, err := v.Target()
		if err != nil {
			return // minor or stepping above 0xf: no name, and that is reported
		}
		back, err := ParseTarget(name)
		if err != nil {
			if len(name)-len("gfx")-2 > maxMajorDigits {
				return // a major too wide for ParseTarget's bound
			}
			t.Fatalf("FromTargetVersion(%d) names %q, which does not parse: %v", raw, name, err)
		}
		if back != v {
			t.Fatalf("FromTargetVersion(%d) = %+v, named %q, parses back as %+v", raw, v, name, back)
		}
	})
}

func FuzzParseIDTable(f *testing.F) {
	f.Add([]byte("1.0.0\n73DF,\tC1,\tAMD Radeon RX 6700 XT\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := ParseIDTable(bytes.NewReader(data))
		if tab == nil {
			t.Fatalf("nil table (error %v)", err)
		}
		if err != nil && !errors.Is(err, ErrNoEntries) {
			t.Fatalf("unexpected error from an in-memory reader: %v", err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		prev := 0
		for _, b := range tab.BadLines() {
			if b.Line <= prev || b.Line > lines {
				t.Fatalf("bad line number %d (previous %d, %d lines)", b.Line, prev, lines)
			}
			if b.Reason == "" {
				t.Fatalf("line %d has no reason", b.Line)
			}
			prev = b.Line
		}
		for _, e := range tab.entries {
			name, exact, ok := tab.Lookup(e.key.device, e.key.revision)
			if !ok || !exact || name == "" || strings.TrimSpace(name) != name {
				t.Fatalf("entry %+v looks up as %q, %v, %v", e, name, exact, ok)
			}
		}
		if tab.Len() == 0 && err == nil && len(tab.BadLines()) > 0 {
			t.Fatalf("bad lines and no entry, yet no ErrNoEntries")
		}
	})
}
