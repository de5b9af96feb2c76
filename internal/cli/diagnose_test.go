package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// apertureLog is the shape of crashlog 001 in ../shared/crashlogs (a ROCm
// issue report of an RDNA1 card under HSA_OVERRIDE_GFX_VERSION=10.3.0),
// with a progress bar and the abort after it.
const apertureLog = "Epoch 1:  12%|#2        | 120/1000 [00:31<03:48,  3.85it/s]\r" +
	":0:rocdevice.cpp            :2673: 1263352162 us: 21870: [tid:0x7f64e3eff640] Device::callbackQueue aborting with error : HSA_STATUS_ERROR_MEMORY_APERTURE_VIOLATION: The agent attempted to access memory beyond the largest legal address. code: 0x29\n" +
	"Aborted (core dumped)\n"

func writeLog(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type diagnosis struct {
	Schema  string `json:"schema"`
	Matches []struct {
		ID    string `json:"id"`
		Class string `json:"class"`
		Title string `json:"title"`
		Score int    `json:"score"`
		Lines []struct {
			N    int    `json:"n"`
			Text string `json:"text"`
		} `json:"lines"`
	} `json:"matches"`
}

func TestDiagnoseCommand(t *testing.T) {
	log := writeLog(t, "train.log", apertureLog)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(apertureLog))
	zw.Close()
	gzLog := writeLog(t, "train.log.gz", gz.String())
	clean := writeLog(t, "clean.log", "epoch 1 done\nloss 0.12\n")
	rx5700 := filepath.Join(repoRoot(t), "examples", "systems", "rx5700xt")

	tests := []struct {
		name      string
		args      []string
		stdin     string
		code      int
		firstID   string
		lastClass string
	}{
		{"file", []string{"diagnose", "--json", log}, "", ExitFindings, "memory-aperture-violation", "process-crash"},
		{"gzip", []string{"diagnose", "--json", gzLog}, "", ExitFindings, "memory-aperture-violation", "process-crash"},
		{"stdin", []string{"diagnose", "--json", "-"}, apertureLog, ExitFindings, "memory-aperture-violation", ""},
		{"no argument reads stdin", []string{"diagnose", "--json"}, apertureLog, ExitFindings, "memory-aperture-violation", ""},
		{"hardware-aware", []string{"diagnose", "--json", "--root", rx5700, log}, "", ExitFindings, "hsa-override-wrong-family", ""},
		{"nothing known", []string{"diagnose", "--json", clean}, "", ExitOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(t.Context(), tt.args, strings.NewReader(tt.stdin), &out, &errb, []string{"ROCM_PATCH_NO_HOST_IDS=1"})
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errb.String())
			}
			var d diagnosis
			if err := json.Unmarshal(out.Bytes(), &d); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out.String())
			}
			if d.Schema != "rocm-patch/diagnosis/v1" || d.Matches == nil {
				t.Fatalf("schema %q, matches %v", d.Schema, d.Matches)
			}
			if tt.firstID == "" {
				if len(d.Matches) != 0 {
					t.Fatalf("want no match, got %+v", d.Matches)
				}
				return
			}
			if d.Matches[0].ID != tt.firstID || len(d.Matches[0].Lines) == 0 || d.Matches[0].Lines[0].N != 1 {
				t.Errorf("best = %+v, want %s with evidence on line 1", d.Matches[0], tt.firstID)
			}
			if tt.lastClass != "" && d.Matches[len(d.Matches)-1].Class != tt.lastClass {
				t.Errorf("the abort is fallout and must come last: %+v", d.Matches)
			}
		})
	}
}

func TestDiagnoseErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"diagnose", "/no/such/log"}, ExitError, "/no/such/log"},
		{[]string{"diagnose", "--dmesg", "--root", "x"}, ExitUsage, "cannot be combined"},
	}
	for _, tt := range tests {
		_, stderr, code := run(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d mentioning %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

func TestDiagnoseHumanOutput(t *testing.T) {
	log := writeLog(t, "train.log", apertureLog)
	stdout, _, code := run(t, nil, "diagnose", log)
	if code != ExitFindings || !strings.Contains(stdout, "memory-aperture-violation") || !strings.Contains(stdout, "what to do") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}

func TestIssuesCommand(t *testing.T) {
	stdout, _, code := run(t, nil, "issues")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, id := range []string{"eeg2025-eegnex-spatial-conv", "thermal-yolo-page-fault", "hsa-override-wrong-family", "wsl2-rocm-no-gpu", "rocm-torch-without-amd-gpu"} {
		if !strings.Contains(stdout, id) {
			t.Errorf("issues does not list %s", id)
		}
	}
	stdout, _, code = run(t, nil, "issues", "--json")
	var doc struct {
		Schema string `json:"schema"`
		Issues []struct{ ID, Class string }
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != 0 || doc.Schema != "rocm-patch/issues/v1" || len(doc.Issues) < 12 {
		t.Errorf("issues --json: exit %d, %v, %+v", code, err, doc)
	}
	stdout, _, code = run(t, nil, "issues", "show", "thermal-yolo-page-fault")
	if code != 0 || !strings.Contains(stdout, "Page not present") {
		t.Errorf("issues show: exit %d\n%s", code, stdout)
	}
	_, stderr, code := run(t, nil, "issues", "show", "override")
	if code != ExitUsage || !strings.Contains(stderr, "did you mean") {
		t.Errorf("unknown id: exit %d, %q", code, stderr)
	}
}

// faultLog is the documented production failure (the thermal object
// detection project's YOLO runs): a memory access fault, then the abort.
const faultLog = "      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size\n" +
	"        1/100      2.31G      1.234      2.345      1.456         42        640:  12%|#2        | 30/250 [00:09<01:07,  3.26it/s]\n" +
	"Memory access fault by GPU node-1 (Agent handle: 0x5581a1e2c3d0) on address 0x7f1c2a000000. Reason: Page not present or supervisor privilege.\n" +
	"Aborted (core dumped)\n"

// TestDiagnoseGoldenOverExamples pins the hardware-aware diagnosis of one
// fault log on every example machine: the same log means different things
// on an RDNA1 card with a wrong override, an RDNA2 card, an MI210 or a
// machine with no AMD GPU.
func TestDiagnoseGoldenOverExamples(t *testing.T) {
	log := writeLog(t, "fault.log", faultLog)
	examples := filepath.Join(repoRoot(t), "examples", "systems")
	entries, err := os.ReadDir(examples)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			stdout, stderr, code := run(t, []string{"ROCM_PATCH_NO_HOST_IDS=1"}, "diagnose", "--json", "--root", filepath.Join(examples, e.Name()), log)
			if code != ExitFindings {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden(t, "diagnose/"+e.Name()+".json", stdout)
		})
	}
}
