package kparams

import (
	"errors"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/kb"
)

const gib = 1 << 30

// Machines as the example trees describe them.
var (
	rx5700xt = GPU{Index: 0, Name: "AMD Radeon RX 5700 XT", Target: "gfx1010", Family: "RDNA1", VRAMBytes: 8573157376, VisibleVRAMBytes: 256 << 20, GTTBytes: 16 * gib}
	rx6800   = GPU{Index: 0, Name: "AMD Radeon RX 6800", Target: "gfx1030", Family: "RDNA2", VRAMBytes: 17163091968, VisibleVRAMBytes: 17163091968, GTTBytes: 32 * gib}
	rx7900   = GPU{Index: 0, Name: "AMD Radeon RX 7900 XTX", Target: "gfx1100", Family: "RDNA3", VRAMBytes: 24 * gib, VisibleVRAMBytes: 24 * gib, GTTBytes: 32 * gib}
	noBAR    = GPU{Index: 0, Name: "AMD Radeon RX 5700 XT", Target: "gfx1010", Family: "RDNA1", VRAMBytes: 8 * gib, GTTBytes: 16 * gib}
)

func defaults() map[string]string {
	return map[string]string{"noretry": "-1", "vm_fragment_size": "-1", "vm_update_mode": "-1", "gttsize": "-1", "cwsr_enable": "1"}
}

func machine(gpus ...GPU) *Machine {
	return &Machine{GPUs: gpus, Loaded: true, Live: defaults(), OS: OSRelease{ID: "ubuntu", IDLike: []string{"debian"}}}
}

func profile(t *testing.T, k *kb.KB, name string) *kb.Profile {
	t.Helper()
	p, ok := k.Profile(name)
	if !ok {
		t.Fatalf("no profile %s", name)
	}
	return p
}

// effects summarises a plan as name=effect/written.
func effects(p *Plan) string {
	var out []string
	for _, it := range p.Items {
		w := "-"
		if it.Write {
			w = "w"
		}
		out = append(out, it.Param.Name+":"+string(it.Effect)+":"+w)
	}
	return strings.Join(out, " ")
}

func TestBuildThermal(t *testing.T) {
	k := loadKB(t)
	th := profile(t, k, "thermal-2025")
	tests := []struct {
		name   string
		m      *Machine
		req    Request
		want   string
		params string
	}{
		{"rdna1 small BAR", machine(rx5700xt), Request{Profile: th},
			"noretry:no-op:- vm_fragment_size:no-op:- vm_update_mode:no-op:- gttsize:changes:w", "gttsize=8192"},
		{"rdna1 small BAR, no-ops too", machine(rx5700xt), Request{Profile: th, IncludeNoOp: true},
			"noretry:no-op:w vm_fragment_size:no-op:w vm_update_mode:no-op:w gttsize:changes:w", "noretry=0 vm_fragment_size=9 vm_update_mode=0 gttsize=8192"},
		{"rdna1 BAR unknown", machine(noBAR), Request{Profile: th},
			"noretry:no-op:- vm_fragment_size:no-op:- vm_update_mode:unknown:w gttsize:changes:w", "vm_update_mode=0 gttsize=8192"},
		{"rdna2 large BAR", machine(rx6800), Request{Profile: th},
			"noretry:changes:w vm_fragment_size:no-op:- vm_update_mode:changes:w gttsize:changes:w", "noretry=0 vm_update_mode=0 gttsize=8192"},
		{"rdna3", machine(rx7900), Request{Profile: th},
			"noretry:changes:w vm_fragment_size:changes:w vm_update_mode:changes:w gttsize:changes:w", "noretry=0 vm_fragment_size=9 vm_update_mode=0 gttsize=8192"},
		{"rdna1 and rdna2", machine(rx5700xt, func() GPU { g := rx6800; g.Index = 1; return g }()), Request{Profile: th},
			"noretry:changes:w vm_fragment_size:no-op:- vm_update_mode:changes:w gttsize:changes:w", "noretry=0 vm_update_mode=0 gttsize=8192"},
		{"no gpu", &Machine{}, Request{Profile: th},
			"noretry:unknown:w vm_fragment_size:unknown:w vm_update_mode:unknown:w gttsize:unknown:w", "noretry=0 vm_fragment_size=9 vm_update_mode=0 gttsize=8192"},
		{"gtt already 8 GiB", func() *Machine { g := rx5700xt; g.GTTBytes = 8 * gib; return machine(g) }(), Request{Profile: th},
			"noretry:no-op:- vm_fragment_size:no-op:- vm_update_mode:no-op:- gttsize:no-op:-", ""},
		{"explicit no-op is written", machine(rx5700xt), Request{Set: []Param{{"noretry", "0"}}},
			"noretry:no-op:w", "noretry=0"},
		{"set replaces profile value", machine(rx5700xt), Request{Profile: th, Set: []Param{{"gttsize", "4096"}}},
			"noretry:no-op:- vm_fragment_size:no-op:- vm_update_mode:no-op:- gttsize:changes:w", "gttsize=4096"},
		{"unknown allowed", machine(rx5700xt), Request{Set: []Param{{"ppfeaturemask", "0xfff7bfff"}}, AllowUnknown: true},
			"ppfeaturemask:unknown:w", "ppfeaturemask=0xfff7bfff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(k, tt.m, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := effects(p); got != tt.want {
				t.Errorf("effects\n got %s\nwant %s", got, tt.want)
			}
			var params []string
			for _, pr := range p.Params {
				params = append(params, pr.String())
			}
			if got := strings.Join(params, " "); got != tt.params {
				t.Errorf("params = %q, want %q", got, tt.params)
			}
			if p.NothingToDo != (tt.params == "") || (p.Content == nil) != p.NothingToDo {
				t.Errorf("NothingToDo %v, content %q", p.NothingToDo, p.Content)
			}
			if !p.NothingToDo {
				if err := CheckContent(p.Content); err != nil {
					t.Error(err)
				}
				if p.CmdLine != "amdgpu."+strings.ReplaceAll(tt.params, " ", " amdgpu.") {
					t.Errorf("cmdline = %q", p.CmdLine)
				}
			}
		})
	}
}

func TestBuildReasons(t *testing.T) {
	k := loadKB(t)
	p, err := Build(k, machine(rx5700xt), Request{Profile: profile(t, k, "thermal-2025")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"noretry":          "RDNA1 is GC 10.1",
		"vm_fragment_size": "already the RDNA1/RDNA2 default",
		"vm_update_mode":   "without large BAR the default is already 0",
		"gttsize":          "GPU 0 (gfx1010): default -1",
	}
	for _, it := range p.Items {
		if !strings.Contains(it.Reason, want[it.Param.Name]) {
			t.Errorf("%s: reason %q lacks %q", it.Param.Name, it.Reason, want[it.Param.Name])
		}
		if it.Setting == nil || it.Live != "-1" || !it.LiveKnown {
			t.Errorf("%s: setting %v, live %q %v", it.Param.Name, it.Setting, it.Live, it.LiveKnown)
		}
	}
	if p.Items[3].WrittenAs != "amdgpu.gtt_size" {
		t.Errorf("gttsize written as %q", p.Items[3].WrittenAs)
	}
	if p.Initramfs.Command() != "update-initramfs -u" || p.GrubUpdate != "update-grub" {
		t.Errorf("initramfs %q, grub %q", p.Initramfs.Command(), p.GrubUpdate)
	}
	// Large BAR on: vm_update_mode=0 changes the default 2.
	p, err = Build(k, machine(rx6800), Request{Profile: profile(t, k, "thermal-2025")})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Items[2].Reason; !strings.Contains(r, "default 2 with all VRAM CPU-visible") {
		t.Errorf("vm_update_mode on large BAR: %q", r)
	}
}

func TestBuildRecommended(t *testing.T) {
	k := loadKB(t)
	rec := profile(t, k, "recommended")
	igpu := GPU{Index: 1, Name: "AMD Radeon 780M", Target: "gfx1103", Family: "RDNA3"}
	rx6800m := GPU{Index: 0, Name: "AMD Radeon RX 6800M", Target: "gfx1031", Family: "RDNA2"}
	strix := GPU{Index: 0, Target: "gfx1151", Family: "RDNA3.5"}
	tests := []struct {
		name   string
		m      *Machine
		params string
		meant  []int
	}{
		{"rdna1", machine(rx5700xt), "", nil},
		{"rdna2", machine(rx6800), "", nil},
		{"no gpu", &Machine{}, "", nil},
		{"rdna3", machine(rx7900), "cwsr_enable=0", []int{0}},
		{"strix halo", machine(strix), "cwsr_enable=0", []int{0}},
		{"laptop", machine(rx6800m, igpu), "cwsr_enable=0", []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(k, tt.m, Request{Profile: rec})
			if err != nil {
				t.Fatal(err)
			}
			var params []string
			for _, pr := range p.Params {
				params = append(params, pr.String())
			}
			if got := strings.Join(params, " "); got != tt.params {
				t.Errorf("params = %q, want %q", got, tt.params)
			}
			if tt.params == "" {
				if !p.NothingToDo || p.Items[0].Effect != EffectOtherHardware || !strings.Contains(p.Items[0].Reason, "RDNA3") {
					t.Errorf("item %+v", p.Items[0])
				}
				return
			}
			if got := p.Items[0].MeantFor; len(got) != len(tt.meant) || got[0] != tt.meant[0] {
				t.Errorf("meant for %v, want %v", got, tt.meant)
			}
		})
	}
}

func TestBuildRefuses(t *testing.T) {
	k := loadKB(t)
	tests := []struct {
		name string
		req  Request
		err  error
	}{
		{"out of range", Request{Set: []Param{{"vm_fragment_size", "12"}}}, ErrInvalid},
		{"unknown", Request{Set: []Param{{"ppfeaturemask", "0x1"}}}, ErrUnknown},
		{"nonexistent", Request{Set: []Param{{"gtt_size", "8192"}}, AllowUnknown: true}, ErrInvalid},
		{"newline", Request{Set: []Param{{"noretry", "0\noptions nouveau modeset=0"}}, AllowUnknown: true}, ErrInvalid},
		{"twice", Request{Set: []Param{{"noretry", "0"}, {"noretry", "1"}}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Build(k, machine(rx5700xt), tt.req)
			if !errors.Is(err, tt.err) || p != nil {
				t.Errorf("plan %v, err %v; want %v", p, err, tt.err)
			}
		})
	}
	if _, err := Build(nil, nil, Request{}); err == nil {
		t.Error("Build(nil, nil) succeeded")
	}
}

func TestBuildCurrentAndConflicts(t *testing.T) {
	k := loadKB(t)
	m := machine(rx5700xt)
	m.Others = []Source{
		{Where: "/etc/modprobe.d/amdgpu.conf", Line: 2, Param: Param{"gttsize", "4096"}},
		{Where: "/proc/cmdline", Param: Param{"gttsize", "8192"}},
		{Where: "/proc/cmdline", Param: Param{"noretry", "1"}},
	}
	req := Request{Profile: profile(t, k, "thermal-2025")}
	p, err := Build(k, m, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conflicts) != 2 || p.Conflicts[0].Same || !p.Conflicts[1].Same {
		t.Errorf("conflicts = %+v", p.Conflicts)
	}
	if !strings.Contains(p.Diff, "(absent)") || !strings.Contains(p.Diff, "+options amdgpu gttsize=8192\n") {
		t.Errorf("diff:\n%s", p.Diff)
	}
	// Planning over the file it would write: unchanged, no diff.
	m.Current = File{Exists: true, Data: p.Content, Mode: 0o644}
	again, err := Build(k, m, req)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged || again.Diff != "" || string(again.Content) != string(p.Content) {
		t.Errorf("unchanged %v, diff %q", again.Unchanged, again.Diff)
	}
}

func TestRenderAndCheckContent(t *testing.T) {
	k := loadKB(t)
	p, err := Build(k, machine(rx6800), Request{Profile: profile(t, k, "thermal-2025"), Set: []Param{{"dc", "1"}}, AllowUnknown: true})
	if err != nil {
		t.Fatal(err)
	}
	content := string(p.Content)
	for _, want := range []string{"# Written by `rocm-patch kernel apply` (profile thermal-2025).", "\noptions amdgpu noretry=0\n", "\noptions amdgpu dc=1\n", "# Given with --set.\n", "not in rocm-patch's settings catalogue"} {
		if !strings.Contains(content, want) {
			t.Errorf("content lacks %q:\n%s", want, content)
		}
	}
	for _, line := range strings.Split(content, "\n") {
		if len(line) > commentWidth {
			t.Errorf("line longer than %d: %q", commentWidth, line)
		}
	}
	bad := []string{
		"options nouveau modeset=0\n",
		"options amdgpu noretry=0 \n",
		"options amdgpu noretry=0\ninstall amdgpu /bin/sh\n",
		"options amdgpu noretry\n",
		"options amdgpu noretry=0;x\n",
		" # comment\n",
	}
	for _, b := range bad {
		if err := CheckContent([]byte(b)); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckContent(%q) = %v", b, err)
		}
	}
}

func TestVerify(t *testing.T) {
	wanted := []Param{{"noretry", "0"}, {"gttsize", "8192"}, {"ppfeaturemask", "0xffffffff"}, {"missing", "1"}}
	live := map[string]string{"noretry": "0", "gttsize": "-1", "ppfeaturemask": "0xffffffff"}
	others := []Source{{Where: "/proc/cmdline", Param: Param{"gttsize", "-1"}}}
	v := Verify(wanted, true, live, others)
	took := map[string]bool{}
	for _, c := range v.Checks {
		took[c.Param.Name] = c.Took
	}
	if !took["noretry"] || took["gttsize"] || !took["ppfeaturemask"] || took["missing"] {
		t.Errorf("took = %v", took)
	}
	if v.AllTook() || len(v.Checks[1].Others) != 1 || v.Checks[3].LiveKnown {
		t.Errorf("verification %+v", v)
	}
	if v := Verify(wanted[:1], true, live, nil); !v.AllTook() {
		t.Error("all took: false")
	}
	if v := Verify(wanted[:1], false, live, nil); v.AllTook() || v.Checks[0].Took {
		t.Error("not loaded, yet took")
	}
}
