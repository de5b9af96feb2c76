package envlayer

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// hostile values every format that accepts them must carry byte for byte.
var hostile = []string{
	"10.3.0",
	"",
	"it's",
	`'; touch PWNED; '`,
	`$HOME and ${HOME}`,
	"`touch PWNED`",
	"$(touch PWNED)",
	`a"b"c`,
	`back\slash`,
	`trailing\`,
	"line one\nline two\n",
	"tab\there",
	"50% %h %%",
	"-n",
	"!!",
	"ümlaut ✓",
	"  spaced  ",
	"#not a comment",
	"a;b|c&d>e<f",
	"*?[a-z]~",
}

func hostileLayer(values []string) Layer {
	l := Layer{Policy: "mitigate", Header: []string{"test layer\nwith a newline in its header", `ends in a backslash \`}}
	for i, v := range values {
		l.Vars = append(l.Vars, Var{
			Name:  fmt.Sprintf("RP_TEST_%d", i),
			Value: v,
			Why:   "why: " + v,
			Does:  "does: " + v,
			Cost:  "cost: " + v,
		})
	}
	l.Vars = append(l.Vars, Var{Name: "RP_TEST_GONE", Unset: true, Why: "removed"})
	return l
}

// readBack runs script in dir with a shell and returns the NUL-separated
// values it printed.
func readBack(t *testing.T, dir string, shell string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(shell, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "RP_TEST_GONE=still here"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", shell, err, errb.String())
	}
	if errb.Len() > 0 {
		t.Errorf("%s wrote to stderr: %s", shell, errb.String())
	}
	got := strings.Split(out.String(), "\x00")
	return got[:len(got)-1]
}

func checkReadBack(t *testing.T, dir string, got []string, values []string) {
	t.Helper()
	want := append(append([]string{}, values...), "<unset>")
	if len(got) != len(want) {
		t.Fatalf("read back %d values, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("value %d: read back %q, want %q", i, got[i], want[i])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "PWNED")); err == nil {
		t.Error("a value ran a command")
	}
}

// posixPrinter prints each test variable NUL-terminated, and <unset> for
// the one that must be gone.
func posixPrinter(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "printf '%%s\\0' \"$RP_TEST_%d\"\n", i)
	}
	b.WriteString("printf '%s\\0' \"${RP_TEST_GONE-<unset>}\"\n")
	return b.String()
}

func TestRenderPOSIXReadsBack(t *testing.T) {
	for _, sh := range []Shell{Bash, Zsh} {
		t.Run(string(sh), func(t *testing.T) {
			path, err := exec.LookPath(string(sh))
			if err != nil {
				t.Skipf("%s not installed", sh)
			}
			out, err := Render(hostileLayer(hostile), sh)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			// As users run it: eval "$(rocm-patch env)".
			script := "eval \"$(cat layer.sh)\"\n" + posixPrinter(len(hostile))
			os.WriteFile(filepath.Join(dir, "layer.sh"), []byte(out), 0o644)
			args := []string{"-c", script}
			if sh == Zsh {
				args = []string{"-f", "-c", script}
			}
			checkReadBack(t, dir, readBack(t, dir, path, args...), hostile)
		})
	}
}

func TestRenderFishReadsBack(t *testing.T) {
	path, err := exec.LookPath("fish")
	if err != nil {
		t.Skip("fish not installed")
	}
	out, err := Render(hostileLayer(hostile), Fish)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "layer.fish"), []byte(out), 0o644)
	var b strings.Builder
	b.WriteString("source layer.fish\n")
	for i := range hostile {
		fmt.Fprintf(&b, "printf '%%s\\0' \"$RP_TEST_%d\"\n", i)
	}
	b.WriteString("if set -q RP_TEST_GONE; printf '%s\\0' $RP_TEST_GONE; else; printf '%s\\0' '<unset>'; end\n")
	checkReadBack(t, dir, readBack(t, dir, path, "--no-config", "-c", b.String()), hostile)
}

func TestRenderDotenvReadsBack(t *testing.T) {
	var ok, refused []string
	for _, v := range hostile {
		if _, err := QuoteDotenv(v); err != nil {
			if !errors.Is(err, ErrUnrepresentable) {
				t.Errorf("QuoteDotenv(%q): %v does not wrap ErrUnrepresentable", v, err)
			}
			refused = append(refused, v)
			continue
		}
		ok = append(ok, v)
	}
	for _, v := range refused {
		if !strings.ContainsAny(v, "'\\\n\t$") {
			t.Errorf("QuoteDotenv refused %q, which needs no escape", v)
		}
	}
	if _, err := Render(hostileLayer(hostile), Dotenv); !errors.Is(err, ErrUnrepresentable) {
		t.Errorf("Render dotenv of unrepresentable values: %v", err)
	}
	out, err := Render(hostileLayer(ok), Dotenv)
	if err != nil {
		t.Fatal(err)
	}
	python, err := exec.LookPath("python3")
	if err != nil || exec.Command(python, "-c", "import dotenv").Run() != nil {
		t.Skip("python3 with python-dotenv not installed")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "layer.env"), []byte(out), 0o644)
	cmd := exec.Command(python, "-c", `import json, sys
from dotenv import dotenv_values
print(json.dumps(dotenv_values(sys.argv[1])))`, filepath.Join(dir, "layer.env"))
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("python-dotenv: %v", err)
	}
	var got map[string]*string
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	for i, v := range ok {
		name := fmt.Sprintf("RP_TEST_%d", i)
		if got[name] == nil || *got[name] != v {
			t.Errorf("%s: python-dotenv read %v, want %q", name, got[name], v)
		}
	}
	if _, set := got["RP_TEST_GONE"]; set {
		t.Error("an unset variable became an assignment")
	}
}

// unquoteSystemd reads one Environment= word the way systemd documents
// it: %% is a literal %, double quotes group, and C escapes are resolved.
func unquoteSystemd(t *testing.T, word string) string {
	t.Helper()
	v, err := decodeSystemd(word)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func decodeSystemd(word string) (string, error) {
	if len(word) < 2 || word[0] != '"' || word[len(word)-1] != '"' {
		return "", fmt.Errorf("not a quoted word: %s", word)
	}
	in := word[1 : len(word)-1]
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '%':
			if i+1 >= len(in) || in[i+1] != '%' {
				return "", fmt.Errorf("lone %% (a specifier) in %s", word)
			}
			b.WriteByte('%')
			i++
		case c == '"':
			return "", fmt.Errorf("unescaped quote in %s", word)
		case c == '\\':
			i++
			if i >= len(in) {
				return "", fmt.Errorf("dangling backslash in %s", word)
			}
			switch in[i] {
			case '\\', '"':
				b.WriteByte(in[i])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'x':
				if i+2 >= len(in) {
					return "", fmt.Errorf("short \\x in %s", word)
				}
				var v byte
				if _, err := fmt.Sscanf(in[i+1:i+3], "%02x", &v); err != nil {
					return "", err
				}
				b.WriteByte(v)
				i += 2
			default:
				return "", fmt.Errorf("unknown escape \\%c in %s", in[i], word)
			}
		case c < 0x20 || c == 0x7f:
			return "", fmt.Errorf("raw control character in %s", word)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// decodePOSIX reads a word made of single-quoted parts and \' escapes,
// the only shapes QuotePOSIX writes.
func decodePOSIX(word string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(word); {
		switch {
		case word[i] == '\'':
			j := strings.IndexByte(word[i+1:], '\'')
			if j < 0 {
				return "", fmt.Errorf("unterminated quote in %q", word)
			}
			b.WriteString(word[i+1 : i+1+j])
			i += j + 2
		case strings.HasPrefix(word[i:], `\'`):
			b.WriteByte('\'')
			i += 2
		default:
			return "", fmt.Errorf("unquoted byte %q in %q", word[i], word)
		}
	}
	return b.String(), nil
}

// decodeFish reads one fish single-quoted word: \\ and \' are escapes,
// any other backslash is literal.
func decodeFish(word string) (string, error) {
	if len(word) < 2 || word[0] != '\'' || word[len(word)-1] != '\'' {
		return "", fmt.Errorf("not quoted: %q", word)
	}
	in := word[1 : len(word)-1]
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		switch {
		case in[i] == '\\' && i+1 < len(in) && (in[i+1] == '\\' || in[i+1] == '\''):
			b.WriteByte(in[i+1])
			i++
		case in[i] == '\'':
			return "", fmt.Errorf("unescaped quote in %q", word)
		default:
			b.WriteByte(in[i])
		}
	}
	if strings.HasSuffix(in, `\`) && !strings.HasSuffix(in, `\\`) {
		return "", fmt.Errorf("quote escaped at the end of %q", word)
	}
	return b.String(), nil
}

// FuzzQuote checks that every quoting function reads back what it was
// given, by the rules of its format.
func FuzzQuote(f *testing.F) {
	for _, v := range hostile {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, err := decodePOSIX(QuotePOSIX(v)); err != nil || got != v {
			t.Errorf("POSIX: %q -> %q (%v)", v, got, err)
		}
		if got, err := decodeFish(QuoteFish(v)); err != nil || got != v {
			t.Errorf("fish: %q -> %q (%v)", v, got, err)
		}
		word := QuoteSystemd("A=" + v)
		if got, err := decodeSystemd(word); err != nil || got != "A="+v {
			if utf8.ValidString(v) || err != nil {
				t.Errorf("systemd: %q -> %q (%v)", v, got, err)
			}
		}
		if q, err := QuoteDotenv(v); err == nil {
			if strings.ContainsAny(q[min(1, len(q)):max(len(q)-1, min(1, len(q)))], "'\\\n\r$") {
				t.Errorf("dotenv: %q quoted as %q", v, q)
			}
			if strings.Trim(q, "'") != v {
				t.Errorf("dotenv: %q quoted as %q", v, q)
			}
		}
		if strings.IndexByte(v, 0) >= 0 {
			if _, err := Render(Layer{Vars: []Var{{Name: "A", Value: v}}}, Bash); !errors.Is(err, ErrUnrepresentable) {
				t.Errorf("NUL accepted: %v", err)
			}
			return
		}
		// Every line but the assignment itself must be a comment: no text
		// placed in a header or comment can become a command.
		dq, dqErr := QuoteDotenv(v)
		assignments := map[Shell]string{
			Bash: "export A=" + QuotePOSIX(v) + "\n", Zsh: "export A=" + QuotePOSIX(v) + "\n",
			Fish: "set -gx A " + QuoteFish(v) + "\n", Systemd: "[Service]\n", Dotenv: "A=" + dq + "\n",
		}
		for sh, assignment := range assignments {
			out, err := Render(Layer{Header: []string{v}, Vars: []Var{{Name: "A", Value: v, Why: v, Does: v, Cost: v}}}, sh)
			if sh == Dotenv && dqErr != nil {
				if err == nil {
					t.Errorf("dotenv rendered %q, which QuoteDotenv refuses", v)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", sh, err)
			}
			if sh == Systemd {
				out = strings.Replace(out, "Environment="+word+"\n", "", 1)
			}
			if !strings.Contains(out, assignment) {
				t.Fatalf("%s: assignment missing from %q", sh, out)
			}
			rest := strings.Replace(out, assignment, "", 1)
			for _, line := range strings.Split(rest, "\n") {
				if line != "" && !strings.HasPrefix(line, "#") {
					t.Errorf("%s: %q left a line that is not a comment: %q", sh, v, line)
				}
			}
		}
	})
}

func TestRenderSystemd(t *testing.T) {
	values := append(append([]string{}, hostile...), "\x01\x7f")
	out, err := Render(hostileLayer(values), Systemd)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasSuffix(line, `\`) {
			t.Errorf("line continues onto the next: %q", line)
		}
		if word, ok := strings.CutPrefix(line, "Environment="); ok {
			name, value, _ := strings.Cut(unquoteSystemd(t, word), "=")
			got[name] = value
		}
	}
	for i, v := range values {
		name := fmt.Sprintf("RP_TEST_%d", i)
		if got[name] != v {
			t.Errorf("%s: %q reads back as %q", name, v, got[name])
		}
	}
	if !strings.Contains(out, "\nUnsetEnvironment=RP_TEST_GONE\n") {
		t.Error("missing UnsetEnvironment=")
	}
	// systemd itself must find nothing to complain about.
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	unit := filepath.Join(dir, "rp-test.service")
	os.WriteFile(unit, []byte(out+"ExecStart=/bin/true\n"), 0o644)
	cmd := exec.Command(analyze, "verify", "--man=no", unit)
	msg, _ := cmd.CombinedOutput()
	for _, line := range strings.Split(string(msg), "\n") {
		if strings.Contains(line, "rp-test.service") {
			t.Errorf("systemd-analyze: %s", line)
		}
	}
}

func TestRenderJSONReadsBack(t *testing.T) {
	out, err := Render(hostileLayer(hostile), JSON)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema    string
		Variables []struct {
			Name   string
			Value  *string
			Action string
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != JSONSchema || len(doc.Variables) != len(hostile)+1 {
		t.Fatalf("schema %q, %d variables", doc.Schema, len(doc.Variables))
	}
	for i, v := range hostile {
		if got := doc.Variables[i].Value; got == nil || *got != v || doc.Variables[i].Action != "set" {
			t.Errorf("variable %d: %v", i, got)
		}
	}
	last := doc.Variables[len(hostile)]
	if last.Action != "unset" || last.Value != nil {
		t.Errorf("unset variable: %+v", last)
	}
}

func TestRenderRefuses(t *testing.T) {
	tests := []struct {
		v    Var
		want error
	}{
		{Var{Name: "1BAD", Value: "x"}, ErrBadName},
		{Var{Name: "A-B", Value: "x"}, ErrBadName},
		{Var{Name: "A B", Value: "x"}, ErrBadName},
		{Var{Name: "", Value: "x"}, ErrBadName},
		{Var{Name: "X;rm", Unset: true}, ErrBadName},
		{Var{Name: "NUL", Value: "a\x00b"}, ErrUnrepresentable},
	}
	for _, tt := range tests {
		for _, sh := range Shells {
			_, err := Render(Layer{Vars: []Var{tt.v}}, sh)
			if !errors.Is(err, tt.want) {
				t.Errorf("%s %+v: err %v, want %v", sh, tt.v, err, tt.want)
			}
		}
	}
	if _, err := Render(Layer{}, Shell("tcsh")); err == nil {
		t.Error("unknown shell accepted")
	}
}

func TestParseShell(t *testing.T) {
	for _, sh := range Shells {
		got, err := ParseShell(string(sh))
		if err != nil || got != sh {
			t.Errorf("ParseShell(%q) = %q, %v", sh, got, err)
		}
	}
	if _, err := ParseShell("powershell"); err == nil || !strings.Contains(err.Error(), "bash, zsh, fish, dotenv, systemd, json") {
		t.Errorf("ParseShell(powershell): %v", err)
	}
}

func TestCommentsCannotEscape(t *testing.T) {
	l := Layer{Header: []string{"GPU name\nexport PWNED=1\r\u2028x"}, Vars: []Var{{Name: "A", Value: "1", Why: "why\nunset A", Does: "d", Cost: "c"}}}
	for _, sh := range []Shell{Bash, Zsh, Fish, Dotenv, Systemd} {
		out, err := Render(l, sh)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "PWNED") || strings.Contains(line, "unset A") {
				if !strings.HasPrefix(line, "#") {
					t.Errorf("%s: text escaped its comment: %q", sh, line)
				}
			}
		}
	}
}

func TestCommentWrap(t *testing.T) {
	var b strings.Builder
	writeComment(&b, "  why:  ", strings.Repeat("word ", 40)+strings.Repeat("x", 100))
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, "# ") {
			t.Errorf("not a comment: %q", line)
		}
		if len(line) > commentWidth && !strings.HasSuffix(line, strings.Repeat("x", 100)) {
			t.Errorf("line longer than %d: %q", commentWidth, line)
		}
	}
	if !strings.HasPrefix(b.String(), "#   why:  word") || !strings.Contains(b.String(), "\n#         word") {
		t.Errorf("label and indent:\n%s", b.String())
	}
}

// TestRenderGolden pins every format's layout on one ordinary layer.
func TestRenderGolden(t *testing.T) {
	l := Layer{
		Policy: "mitigate",
		Header: []string{"rocm-patch env, policy mitigate: risk high.", "GPU 0 AMD Radeon RX 6700 XT (gfx1031): risk high; GPU with the mitigation layers"},
		Vars: []Var{
			{Name: "HSA_OVERRIDE_GFX_VERSION", Value: "10.3.0", Setting: "HSA_OVERRIDE_GFX_VERSION", Why: "GPU 0 needs gfx1030 code", Does: "reports another ISA version", Cost: "none when the family matches", GPUs: []int{0}},
			{Name: "HSA_XNACK", Unset: true, Setting: "HSA_XNACK", Why: "a no-op on RDNA", Does: "requests XNACK", Cost: "none"},
		},
	}
	for _, sh := range Shells {
		out, err := Render(l, sh)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("testdata", "golden."+string(sh)), out)
	}
	empty := Layer{Policy: "mitigate", Notes: []string{"rocm-patch env: no AMD GPU found; there is nothing to set."}}
	for _, sh := range Shells {
		out, err := Render(empty, sh)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("testdata", "empty."+string(sh)), out)
	}
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		os.MkdirAll(filepath.Dir(file), 0o755)
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test ./internal/envlayer -update creates it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (-update rewrites it):\n--- want\n%s\n--- got\n%s", file, want, got)
	}
}
