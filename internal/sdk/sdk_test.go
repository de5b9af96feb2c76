package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/envlayer"
	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/system"
	"github.com/rocm-patch/rocm-patch/internal/testutil"
)

func TestCheckPath(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/opt/rocm_sdk_612", "/opt/rocm_sdk_612", true},
		{"/opt/rocm/", "/opt/rocm", true},
		{"/opt/a b/'q'/$HOME/\"x\"/`id`", "/opt/a b/'q'/$HOME/\"x\"/`id`", true},
		{"/opt//x/../y", "/opt/y", true},
		{"opt/rocm", "", false},
		{"", "", false},
		{"/opt/a\nb", "", false},
		{"/opt/a\tb", "", false},
		{"/opt/a\x00b", "", false},
		{"/opt/a:b", "", false},
	}
	for _, tt := range tests {
		got, err := CheckPath(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("CheckPath(%q) = %q, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrBadPath) {
			t.Errorf("CheckPath(%q): %v does not wrap ErrBadPath", tt.in, err)
		}
	}
}

func TestActivate(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"unset", []string{"HOME=/root"}, []string{"HOME=/root", "ROCM_PATH=/s", "ROCM_HOME=/s", "HIP_PATH=/s", "PATH=/s/bin", "LD_LIBRARY_PATH=/s/lib"}},
		{"set", []string{"PATH=/usr/bin:/bin", "LD_LIBRARY_PATH=/a", "ROCM_HOME=/old"},
			[]string{"PATH=/s/bin:/usr/bin:/bin", "LD_LIBRARY_PATH=/s/lib:/a", "ROCM_HOME=/s", "ROCM_PATH=/s", "HIP_PATH=/s"}},
		{"empty", []string{"PATH=", "LD_LIBRARY_PATH="}, []string{"PATH=/s/bin", "LD_LIBRARY_PATH=/s/lib", "ROCM_PATH=/s", "ROCM_HOME=/s", "HIP_PATH=/s"}},
		{"duplicate", []string{"PATH=/first", "X=1", "PATH=/last"}, []string{"X=1", "PATH=/s/bin:/last", "ROCM_PATH=/s", "ROCM_HOME=/s", "HIP_PATH=/s", "LD_LIBRARY_PATH=/s/lib"}},
		{"nil", nil, []string{"ROCM_PATH=/s", "ROCM_HOME=/s", "HIP_PATH=/s", "PATH=/s/bin", "LD_LIBRARY_PATH=/s/lib"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]string(nil), tt.env...)
			got, err := Activate(tt.env, "/s/")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if !reflect.DeepEqual(tt.env, orig) {
				t.Errorf("env modified: %q", tt.env)
			}
		})
	}
	for _, bad := range []string{"rel", "/a:b", "/a\nb"} {
		if _, err := Activate(nil, bad); !errors.Is(err, ErrBadPath) {
			t.Errorf("Activate(%q): %v", bad, err)
		}
	}
}

// hostilePaths are valid directory names that quoting must carry intact.
var hostilePaths = []string{
	"/opt/rocm_sdk_612",
	"/opt/with space/rocm",
	"/opt/it's/rocm",
	`/opt/"dq"/rocm`,
	"/opt/$HOME/${PATH}/$(id)/`id`",
	`/opt/back\slash\n/rocm`,
	"/opt/ünïcødé/*?[a]",
	"/opt/-n/rocm",
}

// TestRenderShells evaluates the output in the real shells and checks that
// they end with the environment Activate computes, byte for byte.
func TestRenderShells(t *testing.T) {
	envs := map[string][]string{
		"ld unset": {"PATH=/usr/bin:/bin"},
		"ld empty": {"PATH=/usr/bin:/bin", "LD_LIBRARY_PATH="},
		"ld set":   {"PATH=/usr/bin:/bin", "LD_LIBRARY_PATH=/a b:/c", "ROCM_HOME=/old"},
	}
	for _, sh := range []envlayer.Shell{envlayer.Bash, envlayer.Zsh, envlayer.Fish} {
		bin, err := exec.LookPath(string(sh))
		if err != nil {
			t.Logf("%s not installed: skipped", sh)
			continue
		}
		for envName, env := range envs {
			for _, p := range hostilePaths {
				t.Run(string(sh)+"/"+envName+"/"+p, func(t *testing.T) {
					in := system.Install{Path: p, Version: "6.1.2-1"}
					out, err := Render(in, sh, env)
					if err != nil {
						t.Fatal(err)
					}
					cmd := exec.Command(bin)
					// No start-up files: only the script runs.
					switch sh {
					case envlayer.Zsh:
						cmd.Args = append(cmd.Args, "-f")
					case envlayer.Fish:
						cmd.Args = append(cmd.Args, "--no-config")
					}
					cmd.Env = env
					cmd.Stdin = strings.NewReader(out + "\nenv -0\n")
					var stdout, stderr bytes.Buffer
					cmd.Stdout, cmd.Stderr = &stdout, &stderr
					if err := cmd.Run(); err != nil {
						t.Fatalf("%v: %s\nscript:\n%s", err, stderr.String(), out)
					}
					got := map[string]string{}
					for _, kv := range strings.Split(stdout.String(), "\x00") {
						if k, v, ok := strings.Cut(kv, "="); ok {
							got[k] = v
						}
					}
					want, err := Activate(env, p)
					if err != nil {
						t.Fatal(err)
					}
					for _, kv := range want {
						k, v, _ := strings.Cut(kv, "=")
						if got[k] != v {
							t.Errorf("%s = %q, want %q\nscript:\n%s", k, got[k], v, out)
						}
					}
				})
			}
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	for _, sh := range envlayer.Shells {
		if _, err := Render(system.Install{Path: "/opt/a\nexport X=1"}, sh, nil); !errors.Is(err, ErrBadPath) {
			t.Errorf("%s: newline accepted: %v", sh, err)
		}
		if _, err := Render(system.Install{Path: "/opt/a:/evil"}, sh, nil); !errors.Is(err, ErrBadPath) {
			t.Errorf("%s: colon accepted: %v", sh, err)
		}
	}
	if _, err := Render(system.Install{Path: "/opt/$x"}, envlayer.Dotenv, nil); !errors.Is(err, envlayer.ErrUnrepresentable) {
		t.Errorf("dotenv with $: %v", err)
	}
	if _, err := Render(system.Install{Path: "/opt/x"}, envlayer.Shell("csh"), nil); err == nil {
		t.Error("csh accepted")
	}
}

func TestRenderFiles(t *testing.T) {
	in := system.Install{Path: "/opt/with space/rocm", Version: "6.1.2-1"}
	env := []string{"PATH=/usr/bin", "LD_LIBRARY_PATH=/a"}
	out, err := Render(in, envlayer.Dotenv, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ROCM_PATH='/opt/with space/rocm'\n", "PATH='/opt/with space/rocm/bin:/usr/bin'\n", "LD_LIBRARY_PATH='/opt/with space/rocm/lib:/a'\n", "# PATH and LD_LIBRARY_PATH are resolved"} {
		if !strings.Contains(out, want) {
			t.Errorf("dotenv lacks %q:\n%s", want, out)
		}
	}
	out, err = Render(system.Install{Path: `/opt/"%q"`}, envlayer.Systemd, env)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "[Service]\n") || !strings.Contains(out, `Environment="ROCM_PATH=/opt/\"%%q\""`+"\n") {
		t.Errorf("systemd:\n%s", out)
	}
	out, err = Render(in, envlayer.JSON, env)
	if err != nil {
		t.Fatal(err)
	}
	var doc jsonEnv
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != EnvSchema || doc.Path != in.Path || len(doc.Variables) != 5 || doc.Variables[3] != (jsonVar{"PATH", "prepend", "/opt/with space/rocm/bin"}) {
		t.Errorf("json = %+v", doc)
	}
}

func examples(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples", "systems", name))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func detect(t *testing.T, dir string) (*fsroot.Root, *system.System) {
	t.Helper()
	root, err := fsroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := system.Detect(context.Background(), root, system.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return root, sys
}

func TestFind(t *testing.T) {
	root, sys := detect(t, examples(t, "rx6800"))
	tests := []struct {
		in       string
		path     string
		resolved string
		version  string
		err      error
	}{
		{"/opt/rocm_sdk_612", "/opt/rocm_sdk_612", "", "6.1.2-1", nil},
		{"/opt/rocm_sdk_612/", "/opt/rocm_sdk_612", "", "6.1.2-1", nil},
		{"/opt/rocm", "/opt/rocm", "/opt/rocm-6.1.3", "6.1.3-122", nil},
		{"/opt/rocm-6.1.3", "/opt/rocm-6.1.3", "", "6.1.3-122", nil},
		{"/opt/nothing", "", "", "", ErrNotROCm},
		{"/usr", "", "", "", ErrNotROCm},
		{"opt/rocm", "", "", "", ErrBadPath},
		{"/opt/rocm\n", "", "", "", ErrBadPath},
	}
	for _, tt := range tests {
		in, err := Find(sys, root, tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Find(%q) = %+v, %v; want %v", tt.in, in, err, tt.err)
			}
			continue
		}
		if err != nil || in.Path != tt.path || in.ResolvedPath != tt.resolved || in.Version != tt.version {
			t.Errorf("Find(%q) = %+v, %v", tt.in, in, err)
		}
	}

	// A tree detect does not know, with bin/ and lib/.
	dir := testutil.WriteTree(t, map[string]string{"/opt/sdk/bin/hipcc": "", "/opt/sdk/lib/libamdhip64.so": "", "/opt/half/lib/x": "", "/opt/link": "->/opt/sdk"})
	root, _ = detect(t, dir)
	if in, err := Find(nil, root, "/opt/sdk"); err != nil || in.Path != "/opt/sdk" || in.Version != "" {
		t.Errorf("bin+lib: %+v, %v", in, err)
	}
	if in, err := Find(nil, root, "/opt/link"); err != nil || in.ResolvedPath != "/opt/sdk" {
		t.Errorf("link: %+v, %v", in, err)
	}
	if _, err := Find(nil, root, "/opt/half"); !errors.Is(err, ErrNotROCm) {
		t.Errorf("lib only: %v", err)
	}
}

func TestCover(t *testing.T) {
	gpus := []system.GPU{
		{Index: 0, GFXTarget: "gfx1031", Name: "RX 6700 XT"},
		{Index: 1, GFXTarget: "gfx1010"},
		{Index: 2, GFXTarget: "gfx1030"},
		{Index: 3, GFXTarget: "gfx90a"},
		{Index: 4},
	}
	got := Cover(system.Install{ROCBLASTargets: []string{"gfx1030", "gfx90a:xnack-", "gfx1100"}}, gpus)
	want := []Coverage{
		{GPU: 0, Name: "RX 6700 XT", Target: "gfx1031", Kernels: KernelsFamily, Via: []string{"gfx1030"}, Override: "10.3.0"},
		{GPU: 1, Target: "gfx1010", Kernels: KernelsNone},
		{GPU: 2, Target: "gfx1030", Kernels: KernelsOwn},
		{GPU: 3, Target: "gfx90a", Kernels: KernelsOwn},
		{GPU: 4, Kernels: KernelsUnknown},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if c := Cover(system.Install{ROCBLASTargets: []string{}}, gpus[:1]); c[0].Kernels != KernelsUnknown {
		t.Errorf("no rocBLAS: %+v", c)
	}
}

func TestList(t *testing.T) {
	_, sys := detect(t, examples(t, "rx6800"))
	l := List(sys)
	if l.Schema != ListSchema || len(l.Installs) != 2 || len(l.GPUs) != 1 {
		t.Fatalf("listing = %+v", l)
	}
	sdk := l.Installs[0]
	if sdk.Path != "/opt/rocm_sdk_612" || !reflect.DeepEqual(sdk.SelectedBy, []string{"ROCM_HOME"}) || sdk.Coverage[0].Kernels != KernelsOwn {
		t.Errorf("sdk = %+v", sdk)
	}
	if len(l.Installs[1].SelectedBy) != 0 {
		t.Errorf("/opt/rocm selected by %v", l.Installs[1].SelectedBy)
	}
	if l := List(nil); l.Installs == nil || l.GPUs == nil {
		t.Errorf("nil system: %+v", l)
	}
}

// FuzzActivate: any path and environment; an accepted path puts exactly
// its bin and lib in front, adds no empty element, and keeps the rest.
func FuzzActivate(f *testing.F) {
	f.Add("/opt/rocm", "/usr/bin:/bin", "")
	f.Add("/opt/a b", "", "/x")
	f.Add("/opt/a:b", "x", "y")
	f.Add("rel", "x", "y")
	f.Fuzz(func(t *testing.T, p, pathVar, ld string) {
		env := []string{"PATH=" + pathVar, "LD_LIBRARY_PATH=" + ld}
		out, err := Activate(env, p)
		if err != nil {
			return
		}
		clean, _ := CheckPath(p)
		got := map[string]string{}
		for _, kv := range out {
			k, v, _ := strings.Cut(kv, "=")
			got[k] = v
		}
		check := func(name, elem, old string) {
			want := elem
			if old != "" {
				want += ":" + old
			}
			if got[name] != want {
				t.Errorf("%s = %q, want %q", name, got[name], want)
			}
		}
		check("PATH", filepath.Join(clean, "bin"), pathVar)
		check("LD_LIBRARY_PATH", filepath.Join(clean, "lib"), ld)
		if got["ROCM_PATH"] != clean || strings.ContainsAny(clean, ":\n\x00") {
			t.Errorf("ROCM_PATH = %q", got["ROCM_PATH"])
		}
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(out) != 5 || len(keys) != 5 {
			t.Errorf("variables %v", keys)
		}
	})
}
