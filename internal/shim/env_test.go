package shim

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestEnv(t *testing.T) {
	const dir = "/c/rocm-patch/shim/v1"
	tests := []struct {
		name string
		base []string
		opts Options
		want []string
	}{
		{
			name: "defaults, PYTHONPATH unset",
			base: []string{"HOME=/h"},
			want: []string{"PYTHONPATH=" + dir, "ROCM_PATCH_SHIM_POLICY=fallback", "ROCM_PATCH_MEMORY_FRACTION=0.8",
				"ROCM_PATCH_ALLOC_CONF=", "ROCM_PATCH_RUN_DIR=", "ROCM_PATCH_DEVICE=gpu"},
		},
		{
			name: "PYTHONPATH kept behind the shim",
			base: []string{"PYTHONPATH=/a:/b"},
			opts: Options{Policy: PolicyRetry, MemoryFraction: 0.5, RunDir: "/runs/1", Device: "cpu", AllocConf: "max_split_size_mb:128"},
			want: []string{"PYTHONPATH=" + dir + ":/a:/b", "ROCM_PATCH_SHIM_POLICY=retry", "ROCM_PATCH_MEMORY_FRACTION=0.5",
				"ROCM_PATCH_ALLOC_CONF=max_split_size_mb:128", "ROCM_PATCH_RUN_DIR=/runs/1", "ROCM_PATCH_DEVICE=cpu"},
		},
		{
			name: "PYTHONPATH set but empty",
			base: []string{"PYTHONPATH="},
			opts: Options{MemoryFraction: -1, NoAllocConf: true, Policy: PolicyRaise},
			want: []string{"PYTHONPATH=" + dir, "ROCM_PATCH_SHIM_POLICY=raise", "ROCM_PATCH_MEMORY_FRACTION=off",
				"ROCM_PATCH_ALLOC_CONF=none", "ROCM_PATCH_RUN_DIR=", "ROCM_PATCH_DEVICE=gpu"},
		},
		{
			name: "shim already on PYTHONPATH moves to the front once; the last PYTHONPATH counts",
			base: []string{"PYTHONPATH=/old", "PYTHONPATH=/a:" + dir + ":/b", "ROCM_PATCH_RUN_DIR=/outer"},
			opts: Options{MemoryFraction: 1},
			want: []string{"PYTHONPATH=" + dir + ":/a:/b", "ROCM_PATCH_SHIM_POLICY=fallback", "ROCM_PATCH_MEMORY_FRACTION=1",
				"ROCM_PATCH_ALLOC_CONF=", "ROCM_PATCH_RUN_DIR=", "ROCM_PATCH_DEVICE=gpu"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Env(dir, tt.base, tt.opts)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Env =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	base := []string{"A=1", "PYTHONPATH=/x", "B=2", "PYTHONPATH=/y", "C"}
	add := []string{"PYTHONPATH=/s:/y", "NEW=1", "B=3"}
	got := Apply(base, add)
	want := []string{"A=1", "PYTHONPATH=/s:/y", "B=3", "C", "NEW=1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Apply = %q, want %q", got, want)
	}
	if base[1] != "PYTHONPATH=/x" {
		t.Error("Apply modified base")
	}
	// Applied twice, nothing changes: a key is never doubled.
	if again := Apply(got, add); !reflect.DeepEqual(again, want) {
		t.Errorf("Apply twice = %q", again)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Policy
		err  bool
	}{{"", PolicyFallback, false}, {"fallback", PolicyFallback, false}, {"retry", PolicyRetry, false}, {"raise", PolicyRaise, false}, {"Retry", "", true}, {"cpu", "", true}} {
		got, err := ParsePolicy(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ParsePolicy(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		opts Options
		want string // "" = valid
	}{
		{Options{}, ""},
		{Options{Policy: PolicyRetry, MemoryFraction: 1, Device: "cpu"}, ""},
		{Options{MemoryFraction: -1}, ""},
		{Options{Policy: "drop"}, "policy"},
		{Options{MemoryFraction: 1.5}, "memory fraction"},
		{Options{MemoryFraction: math.NaN()}, "memory fraction"},
		{Options{Device: "npu"}, "device"},
		{Options{AllocConf: "a\nb"}, "allocator"},
	}
	for _, tt := range tests {
		err := tt.opts.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.opts, err, tt.want)
		}
	}
}
