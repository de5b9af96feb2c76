package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

func TestParseYOLOCommand(t *testing.T) {
	for _, tt := range []struct {
		name     string
		argv     []string
		ok       bool
		training bool
		set      []string // the values of Set, sorted
		cfg      string
		resume   bool
	}{
		{"yolo train", []string{"yolo", "train", "data=coco8.yaml", "model=yolov8n.pt"}, true, true, []string{"data=coco8.yaml", "model=yolov8n.pt"}, "", false},
		{"task and mode", []string{"/venv/bin/yolo", "detect", "train", "batch=16"}, true, true, []string{"batch=16"}, "", false},
		{"mode then task", []string{"yolo", "train", "segment"}, true, true, nil, "", false},
		{"mode as key", []string{"ultralytics", "mode=train", "epochs=3"}, true, true, []string{"epochs=3", "mode=train"}, "", false},
		{"last mode wins", []string{"yolo", "train", "val"}, true, false, nil, "", false},
		{"predict", []string{"yolo", "predict", "model=m.pt"}, true, false, []string{"model=m.pt"}, "", false},
		{"no mode", []string{"yolo", "data=x.yaml"}, true, false, []string{"data=x.yaml"}, "", false},
		{"spaced equals", []string{"yolo", "train", "batch", "=", "4", "workers=", "1", "amp", "=False"}, true, true, []string{"amp=False", "batch=4", "workers=1"}, "", false},
		{"dashes and comma", []string{"yolo", "train", "--batch=32", "imgsz=320,"}, true, true, []string{"batch=32", "imgsz=320"}, "", false},
		{"bare boolean", []string{"yolo", "train", "amp"}, true, true, []string{"amp"}, "", false},
		{"list split by the shell", []string{"yolo", "train", "imgsz=[640,", "480]", "workers=0"}, true, true, []string{"imgsz=[640,480]", "workers=0"}, "", false},
		{"cfg file", []string{"yolo", "train", "cfg=my.yaml"}, true, true, []string{"cfg=my.yaml"}, "my.yaml", false},
		{"resume word", []string{"yolo", "train", "resume", "model=last.pt"}, true, true, []string{"model=last.pt", "resume"}, "", true},
		{"resume=False", []string{"yolo", "train", "resume=False"}, true, true, []string{"resume=False"}, "", false},
		{"resume path", []string{"yolo", "train", "resume=runs/detect/train/weights/last.pt"}, true, true, []string{"resume=runs/detect/train/weights/last.pt"}, "", true},
		{"help", []string{"yolo", "train", "--help"}, true, false, nil, "", false},
		{"checks", []string{"yolo", "checks"}, true, false, nil, "", false},
		{"singular special", []string{"yolo", "train", "setting"}, true, false, nil, "", false},
		{"python -m", []string{"python3", "-m", "ultralytics", "train", "batch=2"}, true, true, []string{"batch=2"}, "", false},
		{"python options", []string{"/usr/bin/python3.11", "-u", "-W", "ignore", "-X", "dev", "-m", "ultralytics", "detect", "train"}, true, true, nil, "", false},
		{"python -mmodule", []string{"python", "-multralytics", "train"}, true, true, nil, "", false},
		{"python other module", []string{"python", "-m", "torch.distributed.run", "train"}, false, false, nil, "", false},
		{"python -m at the end", []string{"python", "-m"}, false, false, nil, "", false},
		{"python script", []string{"python", "train.py", "-m", "ultralytics"}, false, false, nil, "", false},
		{"python -c", []string{"python", "-c", "import ultralytics"}, false, false, nil, "", false},
		{"another program", []string{"sh", "-c", "yolo train"}, false, false, nil, "", false},
		{"a yolo directory", []string{"yolo/train"}, false, false, nil, "", false},
		{"empty", nil, false, false, nil, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := ParseYOLOCommand(tt.argv)
			if ok != tt.ok {
				t.Fatalf("ok = %v", ok)
			}
			if !ok {
				return
			}
			var set []string
			for _, v := range c.Set {
				set = append(set, v)
			}
			slices.Sort(set)
			if c.Training() != tt.training || !slices.Equal(set, tt.set) || c.Cfg != tt.cfg || c.Resume != tt.resume {
				t.Errorf("got training %v set %q cfg %q resume %v (%+v)", c.Training(), set, c.Cfg, c.Resume, c)
			}
		})
	}
}

// oneGPU is an assessment with one GPU in use, for tests that need no
// example machine.
func oneGPU(device assess.Device, target, family string) *assess.Report {
	rep := &assess.Report{Plan: assess.Plan{Policy: assess.PolicyMitigate, Device: device}}
	if target != "" {
		rep.GPUs = []assess.GPUReport{{Index: 0, Name: "GPU", Target: target, Family: family, InUse: true}}
		if device == assess.DeviceGPU {
			rep.Plan.GPUs = []int{0}
		}
	}
	return rep
}

func recipe(t testing.TB, name string) *kb.TrainingRecipe {
	t.Helper()
	r, err := kb.FindTrainingRecipe(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPlanTraining: the ultralytics recipe on the example machines, with
// the user's own arguments kept.
func TestPlanTraining(t *testing.T) {
	u := recipe(t, "ultralytics")
	train := []string{"yolo", "train", "model=yolov8n.pt", "data=coco8.yaml"}
	for _, tt := range []struct {
		name    string
		machine string
		policy  assess.Policy
		argv    []string
		want    []string // the command after
		line    string   // the printed line, "" for none
		warning string
		debug   string
	}{
		{"RDNA1", "rx5700xt", assess.PolicyMitigate, train,
			append(slices.Clone(train), "batch=8", "amp=False", "workers=2"),
			"rocm-patch: recipe ultralytics (RDNA1 gfx1010): added batch=8 amp=False workers=2", "", ""},
		{"RDNA2", "rx6700xt", assess.PolicyMitigate, train,
			append(slices.Clone(train), "batch=8", "amp=False", "workers=2"),
			"rocm-patch: recipe ultralytics (RDNA2 gfx1031): added batch=8 amp=False workers=2", "", ""},
		{"RDNA2 under force-gpu-unsafe", "rx6700xt", assess.PolicyForceGPU, train,
			append(slices.Clone(train), "batch=8", "amp=False", "workers=2"),
			"rocm-patch: recipe ultralytics (RDNA2 gfx1031): added batch=8 amp=False workers=2", "", ""},
		{"user's batch kept", "rx6700xt", assess.PolicyMitigate, []string{"yolo", "detect", "train", "batch=16", "data=x.yaml"},
			[]string{"yolo", "detect", "train", "batch=16", "data=x.yaml", "amp=False", "workers=2"},
			"rocm-patch: recipe ultralytics (RDNA2 gfx1031): added amp=False workers=2; kept your batch=16", "", ""},
		{"all set by the user", "rx6700xt", assess.PolicyMitigate, []string{"yolo", "train", "batch", "=", "32", "amp", "--workers=4"},
			[]string{"yolo", "train", "batch", "=", "32", "amp", "--workers=4"},
			"rocm-patch: recipe ultralytics (RDNA2 gfx1031): added nothing; kept your batch=32 amp workers=4", "", ""},
		{"python -m ultralytics", "rx5700xt", assess.PolicyMitigate, []string{"python3", "-m", "ultralytics", "train", "workers=0"},
			[]string{"python3", "-m", "ultralytics", "train", "workers=0", "batch=8", "amp=False"},
			"rocm-patch: recipe ultralytics (RDNA1 gfx1010): added batch=8 amp=False; kept your workers=0", "", ""},
		{"not yolo", "rx6700xt", assess.PolicyMitigate, []string{"python", "train.py"}, []string{"python", "train.py"}, "",
			"rocm-patch: recipe ultralytics (RDNA2 gfx1031): nothing added: the command is not an Ultralytics training command (yolo train ..., python -m ultralytics train ...); in Python, pass batch=8, amp=False, workers=2 to model.train()", ""},
		{"yolo val", "rx6700xt", assess.PolicyMitigate, []string{"yolo", "val", "model=m.pt"}, []string{"yolo", "val", "model=m.pt"}, "",
			"nothing added: the command is not an Ultralytics training command", ""},
		{"resume by hand", "rx6700xt", assess.PolicyMitigate, []string{"yolo", "train", "resume", "model=last.pt"}, []string{"yolo", "train", "resume", "model=last.pt"}, "",
			"nothing added: the command resumes a run, which keeps the arguments it was started with", ""},
		{"cfg file", "rx6700xt", assess.PolicyMitigate, []string{"yolo", "train", "cfg=mine.yaml"}, []string{"yolo", "train", "cfg=mine.yaml"}, "",
			"nothing added: cfg=mine.yaml sets the arguments from a file rocm-patch does not read", ""},
		{"open list at the end", "rx6700xt", assess.PolicyMitigate, []string{"yolo", "train", "imgsz=[640,"}, []string{"yolo", "train", "imgsz=[640,"}, "",
			"nothing added: the command's last words would join with the additions", ""},
		{"lone equals at the end", "rx6700xt", assess.PolicyMitigate, []string{"yolo", "train", "imgsz", "="}, []string{"yolo", "train", "imgsz", "="}, "",
			"nothing added: the command's last words would join with the additions", ""},
		{"CDNA2", "mi210", assess.PolicyMitigate, train, train, "", "", "recipe ultralytics is for RDNA1, RDNA2; GPU 0 (gfx90a, CDNA2) gets no changes"},
		{"RDNA3", "rx7900xtx", assess.PolicyMitigate, train, train, "", "", "recipe ultralytics is for RDNA1, RDNA2; GPU 0 (gfx1100, RDNA3) gets no changes"},
		{"no GPU", "no-gpu", assess.PolicyMitigate, train, train, "", "", "recipe ultralytics: the job runs on the CPU (policy mitigate); nothing added"},
		{"policy cpu", "rx6700xt", assess.PolicyCPU, train, train, "", "", "recipe ultralytics: the job runs on the CPU (policy cpu); nothing added"},
		{"mixed laptop", "laptop-780m-rx6800m", assess.PolicyMitigate, train,
			append(slices.Clone(train), "batch=8", "amp=False", "workers=2"),
			"rocm-patch: recipe ultralytics (RDNA2 gfx1031): added batch=8 amp=False workers=2", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep, _ := machine(t, tt.machine, tt.policy)
			argv := slices.Clone(tt.argv)
			tc := PlanTraining(u, argv, rep)
			if !slices.Equal(argv, tt.argv) {
				t.Errorf("the user's argv was changed: %q", argv)
			}
			if !slices.Equal(tc.Argv, tt.want) {
				t.Errorf("argv = %q\nwant %q", tc.Argv, tt.want)
			}
			checkLines(t, "lines", tc.Lines, tt.line)
			checkLines(t, "warnings", tc.Warnings, tt.warning)
			if tc.Debug != tt.debug {
				t.Errorf("debug = %q\nwant %q", tc.Debug, tt.debug)
			}
			if (len(tc.GPUs) > 0) != (tt.debug == "") {
				t.Errorf("GPUs = %+v with debug %q", tc.GPUs, tc.Debug)
			}
			if len(tc.Added) != len(tc.Argv)-len(tt.argv) {
				t.Errorf("Added %v for %q", tc.Added, tc.Argv)
			}
		})
	}
}

// checkLines wants exactly one line containing want, or none when want
// is "".
func checkLines(t *testing.T, what string, got []string, want string) {
	t.Helper()
	if want == "" {
		if len(got) != 0 {
			t.Errorf("%s = %q, want none", what, got)
		}
		return
	}
	if len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("%s = %q\nwant one containing %q", what, got, want)
	}
}

// TestPlanTrainingLightning: advice only, the command untouched.
func TestPlanTrainingLightning(t *testing.T) {
	l := recipe(t, "lightning")
	argv := []string{"python", "train.py", "--epochs", "3"}
	rep, _ := machine(t, "rx6700xt", assess.PolicyMitigate)
	tc := PlanTraining(l, argv, rep)
	if !reflect.DeepEqual(tc.Argv, argv) || len(tc.Added) != 0 || len(tc.Warnings) != 0 || tc.Debug != "" {
		t.Errorf("%+v", tc)
	}
	text := strings.Join(tc.Lines, "\n")
	wantContains(t, "lines", text,
		"rocm-patch: recipe lightning (RDNA2 gfx1031): nothing added to the command; your script decides these settings, so set them there:",
		`  - keep full precision, Trainer(precision="32-true")`, "num_workers=2", "batch_size")
	if len(tc.Lines) != 1+len(l.Advice) {
		t.Errorf("lines %q", tc.Lines)
	}
	rep, _ = machine(t, "rx7900xtx", assess.PolicyMitigate)
	if tc := PlanTraining(l, argv, rep); len(tc.Lines) != 0 || !strings.Contains(tc.Debug, "gets no changes") {
		t.Errorf("RDNA3: %+v", tc)
	}
}

// TestPlanTrainingNil: no recipe or no report changes nothing.
func TestPlanTrainingNil(t *testing.T) {
	argv := []string{"yolo", "train"}
	for _, tc := range []TrainingChange{
		PlanTraining(nil, argv, oneGPU(assess.DeviceGPU, "gfx1031", "RDNA2")),
		PlanTraining(recipe(t, "ultralytics"), argv, nil),
	} {
		if !slices.Equal(tc.Argv, argv) || len(tc.Lines)+len(tc.Warnings) != 0 {
			t.Errorf("%+v", tc)
		}
	}
}

// FuzzParseYOLOCommand: reading any command line never panics, and what
// the ultralytics recipe appends never changes how Ultralytics reads the
// user's own words: each key the user set keeps its value, and each
// addition is read as itself.
func FuzzParseYOLOCommand(f *testing.F) {
	for _, s := range []string{
		"yolo\ntrain\nbatch=16",
		"yolo\ndetect\ntrain\nbatch\n=\n4\namp",
		"python3\n-m\nultralytics\ntrain\nimgsz=[640,\n480]",
		"yolo\ntrain\nimgsz=[640,",
		"yolo\ntrain\nimgsz\n=",
		"yolo\ntrain\n=\n=\n=",
		"yolo\ntrain\n]\n[",
		"yolo\ntrain\ncfg=a.yaml",
		"python\n-W\n-m\nultralytics",
	} {
		f.Add(s)
	}
	u, err := kb.FindTrainingRecipe("ultralytics")
	if err != nil {
		f.Fatal(err)
	}
	rep := oneGPU(assess.DeviceGPU, "gfx1031", "RDNA2")
	f.Fuzz(func(t *testing.T, s string) {
		argv := strings.Split(s, "\n")
		before, ok := ParseYOLOCommand(argv)
		tc := PlanTraining(u, argv, rep)
		if len(tc.Lines)+len(tc.Warnings) != 1 {
			t.Fatalf("%q: lines %q warnings %q", argv, tc.Lines, tc.Warnings)
		}
		if len(tc.Added) == 0 {
			if !slices.Equal(tc.Argv, argv) {
				t.Fatalf("%q changed to %q with nothing added", argv, tc.Argv)
			}
			return
		}
		if !ok || !before.Training() || !slices.Equal(tc.Argv[:len(argv)], argv) {
			t.Fatalf("%q: added %v to %q", argv, tc.Added, tc.Argv)
		}
		after, _ := ParseYOLOCommand(tc.Argv)
		for k, v := range before.Set {
			if after.Set[k] != v {
				t.Errorf("%q: the user's %s became %s", argv, v, after.Set[k])
			}
		}
		for _, a := range tc.Added {
			if _, set := before.Set[a.Key]; set {
				t.Errorf("%q: added %s over the user's %s", argv, a, before.Set[a.Key])
			}
			if after.Set[a.Key] != a.String() {
				t.Errorf("%q: %s reads as %q", argv, a, after.Set[a.Key])
			}
		}
		if !after.Training() || after.Cfg != before.Cfg || after.Resume != before.Resume {
			t.Errorf("%q: the command's meaning changed: %+v -> %+v", argv, before, after)
		}
	})
}

// TestDocsMatchRecipes keeps docs/run.md in step with recipes.yaml: each
// recipe has its section, each argument its row with the default and the
// value, and the advice run prints is the advice shown.
func TestDocsMatchRecipes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "run.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	rs, err := kb.TrainingRecipes()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		wantContains(t, "docs/run.md", doc, "### "+r.Name+"\n", "| `"+r.Name+"` |")
		var all []string
		for _, a := range r.Arguments {
			wantContains(t, "docs/run.md", doc, fmt.Sprintf("| `%s` | %s | %s |", a.Key, a.Default, a.Value))
			all = append(all, a.String())
		}
		if len(all) > 0 {
			wantContains(t, "docs/run.md", doc, "`"+strings.Join(all, " ")+"`", pythonKwargs(r.Arguments))
		}
		for _, a := range r.Advice {
			wantContains(t, "docs/run.md", doc, "  - "+strings.Join(strings.Fields(a), " ")+"\n")
		}
	}
}
