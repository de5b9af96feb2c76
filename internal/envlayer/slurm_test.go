package envlayer

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// slurmApply applies TaskProlog output to env the way slurmstepd does
// (src/slurmd/slurmstepd/task.c, _proc_stdout), and returns what "print"
// lines would have shown. fgetsChunks reproduces older releases, which fed
// the parser 4094 bytes at a time, so that a longer line was parsed as two.
func slurmApply(env map[string]string, out string, fgetsChunks bool) (printed []string) {
	var chunks []string
	if fgetsChunks {
		for _, line := range strings.SplitAfter(out, "\n") {
			for len(line) > 4094 {
				chunks = append(chunks, line[:4094])
				line = line[4094:]
			}
			if line != "" {
				chunks = append(chunks, line)
			}
		}
	} else {
		chunks = []string{out}
	}
	isSpace := func(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }
	for _, chunk := range chunks {
		for _, line := range strings.Split(chunk, "\n") {
			switch {
			case strings.HasPrefix(line, "print "):
				printed = append(printed, strings.TrimLeftFunc(line[6:], func(r rune) bool { return r < 0x80 && isSpace(byte(r)) }))
			case strings.HasPrefix(line, "export "):
				rest := strings.TrimLeftFunc(line[7:], func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
				eq := strings.IndexByte(rest, '=')
				if eq < 0 {
					continue
				}
				name := strings.TrimRightFunc(rest[:eq], func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
				env[name] = rest[eq+1:]
			case strings.HasPrefix(line, "unset "):
				name := strings.TrimFunc(line[6:], func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
				if name != "" {
					delete(env, name)
				}
			}
		}
	}
	return printed
}

func TestRenderSlurmTaskPrologReadsBack(t *testing.T) {
	var values []string
	for _, v := range hostile {
		if !strings.Contains(v, "\n") {
			values = append(values, v)
		}
	}
	values = append(values, "\r", " leading and trailing ", "export X=1", "unset HOME", "print hello", "'quoted'", `"double"`)
	out, err := Render(hostileLayer(values), SlurmTaskProlog)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunked := range []bool{false, true} {
		env := map[string]string{"RP_TEST_GONE": "still here", "HOME": "/home/u"}
		if printed := slurmApply(env, out, chunked); len(printed) != 0 {
			t.Errorf("output printed %q into the job", printed)
		}
		for i, v := range values {
			name := fmt.Sprintf("RP_TEST_%d", i)
			if got, ok := env[name]; !ok || got != v {
				t.Errorf("%s: read back %q (set %v), want %q", name, got, ok, v)
			}
		}
		if _, ok := env["RP_TEST_GONE"]; ok {
			t.Error("RP_TEST_GONE was not unset")
		}
		if env["HOME"] != "/home/u" || env["X"] != "" {
			t.Errorf("a value acted as a line of its own: HOME=%q X=%q", env["HOME"], env["X"])
		}
		if len(env) != len(values)+1 {
			t.Errorf("%d variables, want %d: %v", len(env), len(values)+1, env)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "export RP_TEST_") && line != "unset RP_TEST_GONE" {
			t.Errorf("a line Slurm could act on: %q", line)
		}
	}
}

func TestRenderSlurmTaskPrologRefuses(t *testing.T) {
	for _, v := range []string{"line one\nline two", "\n", "trailing\n", strings.Repeat("x", slurmMaxLine)} {
		_, err := Render(Layer{Vars: []Var{{Name: "A", Value: v}}}, SlurmTaskProlog)
		if !errors.Is(err, ErrUnrepresentable) {
			t.Errorf("%.20q: err %v", v, err)
		}
	}
	// The longest value that fits.
	v := strings.Repeat("x", slurmMaxLine-len("export A="))
	out, err := Render(Layer{Vars: []Var{{Name: "A", Value: v}}}, SlurmTaskProlog)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	slurmApply(env, out, true)
	if env["A"] != v {
		t.Errorf("a %d-byte value read back as %d bytes", len(v), len(env["A"]))
	}
}

// TestSlurmLongComment: text from the machine in a comment (a path with no
// space to wrap at) is cut, never split into a line of its own.
func TestSlurmLongComment(t *testing.T) {
	word := strings.Repeat("é", 3000) + "\nexport PWNED=1" + strings.Repeat("/x", 3000) + "export PWNED=2"
	l := Layer{Header: []string{word}, Vars: []Var{{Name: "A", Value: "1", Why: word}}}
	out, err := Render(l, SlurmTaskProlog)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if len(line) > slurmMaxLine {
			t.Errorf("a line of %d bytes", len(line))
		}
		if !strings.HasPrefix(line, "#") && line != "" && line != "export A=1" {
			t.Errorf("not a comment: %.40q", line)
		}
	}
	env := map[string]string{}
	slurmApply(env, out, true)
	if len(env) != 1 || env["A"] != "1" {
		t.Errorf("env %v", env)
	}
}

// FuzzSlurmTaskProlog: a value is either refused or read back byte for
// byte by Slurm's parser, old and new, with nothing else changed; text in
// comments can never act.
func FuzzSlurmTaskProlog(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	f.Add("print x")
	f.Fuzz(func(t *testing.T, v string) {
		l := Layer{Header: []string{v}, Vars: []Var{{Name: "A", Value: v, Why: v, Does: v, Cost: v}, {Name: "B", Unset: true, Why: v}}}
		out, err := Render(l, SlurmTaskProlog)
		if err != nil {
			if !errors.Is(err, ErrUnrepresentable) {
				t.Fatalf("%q: %v", v, err)
			}
			if !strings.ContainsAny(v, "\n\x00") && len("export A="+v) <= slurmMaxLine {
				t.Fatalf("%q refused: %v", v, err)
			}
			return
		}
		for _, chunked := range []bool{false, true} {
			env := map[string]string{"B": "set"}
			if printed := slurmApply(env, out, chunked); len(printed) != 0 {
				t.Fatalf("%q printed %q", v, printed)
			}
			if len(env) != 1 || env["A"] != v {
				t.Fatalf("%q read back as %q", v, env)
			}
		}
	})
}
