package runner

import (
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/testutil"

	"github.com/rocm-patch/rocm-patch/internal/assess"
)

func TestDecisionLine(t *testing.T) {
	tests := []struct {
		machine string
		policy  assess.Policy
		retries int
		history string
		want    string
		notice  []string // substrings of CPUNotice; nil: none
	}{
		{"rx6700xt", assess.PolicyMitigate, 2, "~/.local/state/rocm-patch/history.db",
			"rocm-patch: GPU 0 AMD Radeon RX 6700 XT (gfx1031, RDNA2): risk high; policy mitigate: running on the GPU with env layer HSA_OVERRIDE_GFX_VERSION=10.3.0; CPU after 2 GPU faults (history: ~/.local/state/rocm-patch/history.db)", nil},
		{"rx6700xt", assess.PolicyMitigate, 1, "",
			"rocm-patch: GPU 0 AMD Radeon RX 6700 XT (gfx1031, RDNA2): risk high; policy mitigate: running on the GPU with env layer HSA_OVERRIDE_GFX_VERSION=10.3.0; CPU after 1 GPU fault", nil},
		{"rx5700xt", assess.PolicyMitigate, 0, "",
			"rocm-patch: GPU 0 AMD Radeon RX 5700 XT (gfx1010, RDNA1): risk high; policy mitigate: running on the GPU with env layer unset HSA_OVERRIDE_GFX_VERSION; no retries", nil},
		{"rx6700xt", assess.PolicyCPU, 2, "",
			`rocm-patch: GPU 0 AMD Radeon RX 6700 XT (gfx1031, RDNA2): risk high; policy cpu: running on the CPU with every GPU hidden (ROCR_VISIBLE_DEVICES= HIP_VISIBLE_DEVICES= CUDA_VISIBLE_DEVICES=); no retries`,
			[]string{"the job runs on the CPU, so torch.cuda.is_available() is False: GPU 0 AMD Radeon RX 6700 XT (gfx1031): RDNA2 (gfx1031): every RDNA1/RDNA2 GPU is high risk", "To override: --policy mitigate", "--force-gpu-unsafe"}},
		{"rx6700xt", assess.PolicyForceGPU, 0, "",
			"rocm-patch: GPU 0 AMD Radeon RX 6700 XT (gfx1031, RDNA2): risk high; policy force-gpu-unsafe: running on the GPU with no safeguards, env layer HSA_OVERRIDE_GFX_VERSION=10.3.0; no retries", nil},
		{"rx6700xt", assess.PolicyForceGPU, 2, "",
			"rocm-patch: GPU 0 AMD Radeon RX 6700 XT (gfx1031, RDNA2): risk high; policy force-gpu-unsafe: running on the GPU with no safeguards, env layer HSA_OVERRIDE_GFX_VERSION=10.3.0; 2 retries after GPU faults, no CPU fallback", nil},
		{"no-gpu", assess.PolicyMitigate, 2, "",
			"rocm-patch: no AMD GPU in use; policy mitigate: running on the CPU; no retries", nil},
		{"eight-mi300x", assess.PolicyMitigate, 2, "",
			"rocm-patch: GPUs 0-7 8x AMD Instinct MI300X (gfx942, CDNA3): risk", nil},
		{"laptop-780m-rx6800m", assess.PolicyCPU, 2, "",
			"; policy cpu: running on the GPU with env layer ROCR_VISIBLE_DEVICES=", nil},
	}
	for _, tt := range tests {
		t.Run(tt.machine+"/"+string(tt.policy), func(t *testing.T) {
			rep, _ := machine(t, tt.machine, tt.policy)
			got := DecisionLine(rep, tt.retries, CPUFallback(rep.Plan, testutil.KB(t).Ladder()), tt.history)
			if !strings.Contains(got, tt.want) {
				t.Errorf("got\n %s\nwant it to contain\n %s", got, tt.want)
			}
			if strings.Contains(got, "\n") {
				t.Errorf("not one line: %q", got)
			}
			notice := CPUNotice(rep)
			if tt.notice == nil && notice != "" {
				t.Errorf("unexpected notice %q", notice)
			}
			for _, w := range tt.notice {
				if !strings.Contains(notice, w) {
					t.Errorf("notice %q lacks %q", notice, w)
				}
			}
		})
	}
}

func TestTilde(t *testing.T) {
	for _, tt := range []struct{ path, home, want string }{
		{"/home/u/.local/state/x", "/home/u", "~/.local/state/x"},
		{"/home/u", "/home/u/", "~"},
		{"/home/user2/x", "/home/u", "/home/user2/x"},
		{"/x", "", "/x"},
		{"/x", "/", "/x"},
		{"/rel/x", "rel", "/rel/x"},
	} {
		if got := Tilde(tt.path, tt.home); got != tt.want {
			t.Errorf("Tilde(%q, %q) = %q, want %q", tt.path, tt.home, got, tt.want)
		}
	}
}
