package kb

import (
	"strings"
	"testing"
)

// FuzzParseEntry feeds arbitrary files to the front-matter parser. It must
// never panic, and an entry it accepts must satisfy the invariants the
// rest of the program relies on.
func FuzzParseEntry(f *testing.F) {
	f.Add([]byte(strings.ReplaceAll(validEntry, "%ID%", "a")))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("---\r\nid: a\r\n---\r\nbody"))
	f.Add([]byte("\xef\xbb\xbf---\nid: [\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEntry("entries/fuzz.md", data)
		if err != nil {
			if !strings.Contains(err.Error(), "entries/fuzz.md") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if e.ID == "" || e.Title == "" || e.RootCause == "" || len(e.Mitigations) == 0 {
			t.Errorf("accepted an incomplete entry: %+v", e)
		}
		for _, s := range e.Signatures {
			p, err := s.Compile()
			if err != nil {
				t.Fatalf("accepted signature %q that does not compile: %v", s.Pattern, err)
			}
			if len(p.Literals) == 0 {
				t.Errorf("accepted signature %q without literals", s.Pattern)
			}
			for _, l := range p.Literals {
				if len(l.Text) < minLiteral {
					t.Errorf("literal %q too short", l.Text)
				}
			}
		}
	})
}

// FuzzCompilePattern checks that any pattern the loader accepts also has
// an ERE form and literals, and never panics on odd syntax.
func FuzzCompilePattern(f *testing.F) {
	for _, s := range []string{`Memory access fault by GPU node-?[0-9]*`, `(?i)yolo`, `[^\s]+ fault`, `a{2,}b|c[]-^]d`, `\bGPU reset\B`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := compilePattern(src, nil)
		if err != nil {
			return
		}
		if p.ERE == "" || len(p.Literals) == 0 {
			t.Errorf("%q: accepted without ERE or literals", src)
		}
	})
}
