package setup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const testExe = "/usr/local/bin/rocm-patch"

func mustBlock(t testing.TB, sh Shell, o BlockOptions) []byte {
	t.Helper()
	if o.Executable == "" {
		o.Executable = testExe
	}
	b, err := Block(sh, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBlockText(t *testing.T) {
	tests := []struct {
		sh     Shell
		o      BlockOptions
		wants  []string
		denied []string
	}{
		{Bash, BlockOptions{}, []string{
			BeginMarker + "\n",
			"if [ -x '/usr/local/bin/rocm-patch' ]; then\n    eval \"$('/usr/local/bin/rocm-patch' env)\"\nfi\n",
			EndMarker + "\n",
		}, []string{"--shell", "--policy"}},
		{Zsh, BlockOptions{Policy: "mitigate"}, []string{
			"eval \"$('/usr/local/bin/rocm-patch' env --shell zsh)\"",
		}, []string{"--policy"}},
		{Bash, BlockOptions{Policy: "cpu"}, []string{"env --policy cpu)\""}, nil},
		{Fish, BlockOptions{}, []string{
			"if test -x '/usr/local/bin/rocm-patch'\n    '/usr/local/bin/rocm-patch' env --shell fish | source\nend\n",
		}, []string{"eval", "[ -x"}},
		// A path with a quote and a dollar is quoted for each shell.
		{Bash, BlockOptions{Executable: "/opt/it's $HOME/rocm-patch"}, []string{`'/opt/it'\''s $HOME/rocm-patch'`}, nil},
		{Fish, BlockOptions{Executable: "/opt/it's $HOME/rocm-patch"}, []string{`'/opt/it\'s $HOME/rocm-patch'`}, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.sh)+" "+tt.o.Policy+tt.o.Executable, func(t *testing.T) {
			b := string(mustBlock(t, tt.sh, tt.o))
			if err := CheckBlock([]byte(b)); err != nil {
				t.Errorf("CheckBlock: %v", err)
			}
			for _, w := range tt.wants {
				if !strings.Contains(b, w) {
					t.Errorf("block lacks %q:\n%s", w, b)
				}
			}
			for _, d := range tt.denied {
				if strings.Contains(b, d) {
					t.Errorf("block holds %q:\n%s", d, b)
				}
			}
		})
	}
}

func TestBlockRefusals(t *testing.T) {
	tests := []struct {
		name string
		sh   Shell
		o    BlockOptions
	}{
		{"relative", Bash, BlockOptions{Executable: "rocm-patch"}},
		{"empty", Bash, BlockOptions{}},
		{"newline", Bash, BlockOptions{Executable: "/a\nb"}},
		{"invalid utf-8", Bash, BlockOptions{Executable: "/a\xffb"}},
		{"shell", Shell("tcsh"), BlockOptions{Executable: testExe}},
		{"policy", Bash, BlockOptions{Executable: testExe, Policy: "cpu; rm -rf ~"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := Block(tt.sh, tt.o); err == nil {
				t.Errorf("accepted:\n%s", b)
			}
		})
	}
}

func TestParseShell(t *testing.T) {
	tests := []struct {
		shellVar string
		want     Shell
		ok       bool
	}{
		{"/bin/bash", Bash, true},
		{"/usr/bin/zsh", Zsh, true},
		{"/usr/local/bin/fish", Fish, true},
		{"/bin/dash", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := ShellFromPath(tt.shellVar)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ShellFromPath(%q) = %q, %v", tt.shellVar, got, err)
		}
		if err != nil && !errors.Is(err, ErrUnsupportedShell) {
			t.Errorf("ShellFromPath(%q): %v does not wrap ErrUnsupportedShell", tt.shellVar, err)
		}
	}
}

// TestInsertRemove: the round trip gives back the original bytes for every
// shape of file, and Insert's prefix keeps a blank line before the block.
func TestInsertRemove(t *testing.T) {
	block := mustBlock(t, Bash, BlockOptions{})
	tests := []struct {
		name, data, prefix string
	}{
		{"empty", "", ""},
		{"trailing newline", "alias ll='ls -l'\n", "\n"},
		{"no trailing newline", "alias ll='ls -l'", "\n\n"},
		{"ends with a blank line", "export A=1\n\n", ""},
		{"only a newline", "\n", "\n"},
		{"crlf", "a\r\nb\r\n", "\n"},
		{"no newline at all, one char", "x", "\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, prefix := Insert([]byte(tt.data), block)
			if string(prefix) != tt.prefix {
				t.Errorf("prefix %q, want %q", prefix, tt.prefix)
			}
			if !bytes.HasSuffix(out, block) || !bytes.HasPrefix(out, []byte(tt.data)) {
				t.Errorf("Insert gave %q", out)
			}
			if got := Find(out, block); got != Present {
				t.Errorf("Find after Insert = %v", got)
			}
			back, err := Remove(out, prefix, block)
			if err != nil {
				t.Fatal(err)
			}
			if string(back) != tt.data {
				t.Errorf("Remove(Insert(x)) = %q, want %q", back, tt.data)
			}
		})
	}
}

// TestRemoveAfterUserEdits: lines the user added around the block are
// kept; edits inside it and copies of it are refused.
func TestRemoveAfterUserEdits(t *testing.T) {
	block := string(mustBlock(t, Bash, BlockOptions{}))
	tests := []struct {
		name, data, prefix, want string
		err                      error
	}{
		{"line appended after", "a\n\n" + block + "b\n", "\n", "a\nb\n", nil},
		{"no newline originally, line appended", "a\n\n" + block + "b\n", "\n\n", "a\nb\n", nil},
		{"line added before", "a\n\nnew\n" + block, "\n", "a\n\nnew\n", nil},
		{"blank line removed", "a\n" + block, "\n", "a\n", nil},
		{"block at start, text after", block + "tail\n", "", "tail\n", nil},
		{"gone", "a\n", "\n", "", ErrNotFound},
		{"edited inside", "a\n\n" + strings.Replace(block, " env)", " env --policy cpu)", 1), "\n", "", ErrEdited},
		{"end marker removed", "a\n\n" + strings.Replace(block, EndMarker+"\n", "", 1), "\n", "", ErrEdited},
		{"indented marker", "a\n\n  " + block, "\n", "", ErrEdited},
		{"copied", "a\n\n" + block + "\n" + block, "\n", "", ErrAmbiguous},
		{"stray marker", "a\n\n" + block + BeginMarker + "\n", "\n", "", ErrAmbiguous},
		{"crlf conversion", "a\r\n\r\n" + strings.ReplaceAll(block, "\n", "\r\n"), "\n", "", ErrEdited},
		{"block not at a line start", "a" + block, "\n\n", "", ErrEdited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Remove([]byte(tt.data), []byte(tt.prefix), []byte(block))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err == nil && string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFind(t *testing.T) {
	block := string(mustBlock(t, Bash, BlockOptions{}))
	other := string(mustBlock(t, Bash, BlockOptions{Policy: "cpu"}))
	tests := []struct {
		name, data string
		want       Presence
	}{
		{"empty", "", Absent},
		{"no marker", "export X=1\n# rocm-patch setup\n", Absent},
		{"marker mid-line is no marker", "echo '" + BeginMarker + "'\n", Absent},
		{"present", "x\n\n" + block, Present},
		{"another version", "x\n\n" + other, Different},
		{"twice", block + block, Different},
	}
	for _, tt := range tests {
		if got := Find([]byte(tt.data), []byte(block)); got != tt.want {
			t.Errorf("%s: Find = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestReplace: a second setup with another block keeps the prefix, so the
// original still comes back.
func TestReplace(t *testing.T) {
	a := mustBlock(t, Bash, BlockOptions{})
	b := mustBlock(t, Bash, BlockOptions{Policy: "cpu"})
	orig := []byte("x=1")
	out, prefix := Insert(orig, a)
	out = append(out, "tail\n"...)
	out, err := Replace(out, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if Find(out, b) != Present {
		t.Fatalf("replaced block not found:\n%s", out)
	}
	back, err := Remove(out, prefix, b)
	if err != nil {
		t.Fatal(err)
	}
	if string(back) != "x=1\ntail\n" {
		t.Errorf("got %q", back)
	}
	if _, err := Replace([]byte("nothing"), a, b); !errors.Is(err, ErrNotFound) {
		t.Errorf("Replace without a block: %v", err)
	}
}

func TestCheckBlockAndPrefix(t *testing.T) {
	good := string(mustBlock(t, Fish, BlockOptions{}))
	for _, bad := range []string{"", "rm -rf ~\n", BeginMarker + "\n" + EndMarker, "x\n" + good, good + BeginMarker + "\n" + EndMarker + "\n"} {
		if CheckBlock([]byte(bad)) == nil {
			t.Errorf("CheckBlock accepted %q", bad)
		}
	}
	for _, bad := range []string{" ", "\n\n\n", "x"} {
		if CheckPrefix([]byte(bad)) == nil {
			t.Errorf("CheckPrefix accepted %q", bad)
		}
	}
}

// FuzzInsertRemove: for any file without a marker, Remove(Insert(x)) == x
// byte for byte for every shell's block; and Remove never panics nor
// returns anything but the data without the block on arbitrary input.
func FuzzInsertRemove(f *testing.F) {
	for _, s := range []string{"", "\n", "a", "a\n", "a\n\n", "a\r\n", "\x00\xff", "# >>> rocm-patch setup", BeginMarker + "\n"} {
		f.Add([]byte(s))
	}
	blocks := map[Shell][]byte{}
	for _, sh := range Shells {
		blocks[sh] = mustBlock(f, sh, BlockOptions{})
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for sh, block := range blocks {
			if Find(data, block) != Absent {
				// Insert is only used on files without a marker; the
				// refusals must still be errors, not panics.
				if out, err := Remove(data, []byte("\n"), block); err == nil && len(out) > len(data) {
					t.Fatalf("%s: Remove grew the data", sh)
				}
				continue
			}
			out, prefix := Insert(data, block)
			if Find(out, block) != Present {
				t.Fatalf("%s: block not found after Insert", sh)
			}
			back, err := Remove(out, prefix, block)
			if err != nil {
				t.Fatalf("%s: %v", sh, err)
			}
			if !bytes.Equal(back, data) {
				t.Fatalf("%s: Remove(Insert(%q)) = %q", sh, data, back)
			}
		}
	})
}

// TestBlockInRealShells sources each shell's block in that shell, when it
// is installed: the block loads what the binary prints, and a binary that
// is gone makes no error.
func TestBlockInRealShells(t *testing.T) {
	for _, sh := range Shells {
		t.Run(string(sh), func(t *testing.T) {
			shell, err := exec.LookPath(string(sh))
			if err != nil {
				t.Skipf("%s is not installed", sh)
			}
			dir := t.TempDir()
			// A path with a space and a quote, as the quoting must carry.
			exe := filepath.Join(dir, "it's here", "rocm-patch")
			os.MkdirAll(filepath.Dir(exe), 0o755)
			set := `echo "export ROCM_PATCH_TEST='ok \$HOME'"`
			if sh == Fish {
				set = `echo "set -gx ROCM_PATCH_TEST 'ok \$HOME'"`
			}
			// The fake binary checks the arguments the block gives it.
			want := map[Shell]string{Bash: "env", Zsh: "env --shell zsh", Fish: "env --shell fish"}[sh]
			script := fmt.Sprintf("#!/bin/sh\n[ \"$*\" = %q ] || { echo \"bad args: $*\" >&2; exit 1; }\n%s\n", want, set)
			if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			rc := filepath.Join(dir, "rc")
			data, _ := Insert([]byte("echo before >/dev/null"), mustBlock(t, sh, BlockOptions{Executable: exe}))
			os.WriteFile(rc, data, 0o644)
			// The same line in all three shells.
			source := fmt.Sprintf("source '%s'; echo \"[$ROCM_PATCH_TEST]\"", rc)
			cmd := exec.Command(shell, "-c", source)
			cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != "[ok $HOME]\n" {
				t.Errorf("%s: %v: %q", sh, err, out)
			}
			os.Remove(exe)
			cmd = exec.Command(shell, "-c", source)
			cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
			out, err = cmd.CombinedOutput()
			if err != nil || string(out) != "[]\n" {
				t.Errorf("%s without the binary: %v: %q", sh, err, out)
			}
		})
	}
}
