package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// standInYOLO stands in for Ultralytics' yolo: it writes each call's
// arguments, one bracketed word each, as a line of $YOLO_ARGS, so the test
// sees exactly the argv it got. Its first call (and, with YOLO_MODE=faulty,
// every call) faults the way ROCm does; with YOLO_MODE=nosave the fault
// comes before any checkpoint is saved, otherwise after last.pt.
const standInYOLO = `#!/bin/sh
for a in "$@"; do printf '[%s]' "$a" >> "$YOLO_ARGS"; done
echo >> "$YOLO_ARGS"
if [ "$YOLO_MODE" = ok ]; then exit 0; fi
if [ ! -f runs/detect/train/weights/last.pt ] || [ "$YOLO_MODE" = faulty ] || [ "$YOLO_MODE" = nosave ]; then
  if [ "$YOLO_MODE" != nosave ]; then
    mkdir -p runs/detect/train/weights
    echo weights > runs/detect/train/weights/last.pt
  fi
  echo "` + faultLine + `" >&2
  kill -ABRT $$
fi
echo resumed
`

// yoloWorld is a folder with the stand-in yolo first on PATH, and the
// file it records its calls in.
type yoloWorld struct {
	env      []string
	argsFile string
	db       string
}

func newYOLOWorld(t *testing.T, mode string) yoloWorld {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "yolo"), []byte(standInYOLO), 0o755); err != nil {
		t.Fatal(err)
	}
	w := yoloWorld{env: runEnv(t), argsFile: filepath.Join(dir, "yolo-args"), db: filepath.Join(dir, "state", "history.db")}
	w.env[0] = "PATH=" + bin + ":/usr/bin:/bin"
	w.env = append(w.env, "YOLO_ARGS="+w.argsFile, "YOLO_MODE="+mode)
	return w
}

// calls returns the argv of each call of the stand-in, bracketed.
func (w yoloWorld) calls(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(w.argsFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func bracket(args ...string) string {
	return "[" + strings.Join(args, "][") + "]"
}

// TestRunRecipeUltralytics: the stand-in yolo receives the user's words
// plus what the recipe adds on RDNA1 and RDNA2, the user's own settings
// win, and other families get the command unchanged.
func TestRunRecipeUltralytics(t *testing.T) {
	for _, tt := range []struct {
		name    string
		machine string
		flags   []string
		args    []string // after "yolo"
		want    string   // the stand-in's argv
		line    string   // on stderr; "" for no recipe line
	}{
		{"RDNA1", "rx5700xt", nil, []string{"train", "model=yolov8n.pt", "data=thermal.yaml"},
			bracket("train", "model=yolov8n.pt", "data=thermal.yaml", "batch=8", "amp=False", "workers=2"),
			"rocm-patch: recipe ultralytics (RDNA1 gfx1010): added batch=8 amp=False workers=2\n"},
		{"RDNA2", "rx6700xt", nil, []string{"detect", "train", "data=thermal.yaml"},
			bracket("detect", "train", "data=thermal.yaml", "batch=8", "amp=False", "workers=2"),
			"rocm-patch: recipe ultralytics (RDNA2 gfx1031): added batch=8 amp=False workers=2\n"},
		{"user's settings kept", "rx6700xt", nil, []string{"train", "batch=16", "data=thermal.yaml", "workers", "=", "6"},
			bracket("train", "batch=16", "data=thermal.yaml", "workers", "=", "6", "amp=False"),
			"rocm-patch: recipe ultralytics (RDNA2 gfx1031): added amp=False; kept your batch=16 workers=6\n"},
		{"all set by the user", "rx5700xt", nil, []string{"train", "batch=4", "amp=True", "workers=0"},
			bracket("train", "batch=4", "amp=True", "workers=0"),
			"rocm-patch: recipe ultralytics (RDNA1 gfx1010): added nothing; kept your batch=4 amp=True workers=0\n"},
		{"quiet", "rx6700xt", []string{"-q"}, []string{"train", "data=thermal.yaml"},
			bracket("train", "data=thermal.yaml", "batch=8", "amp=False", "workers=2"), ""},
		{"CDNA2", "mi210", nil, []string{"train", "data=thermal.yaml"}, bracket("train", "data=thermal.yaml"), ""},
		{"RDNA3", "rx7900xtx", nil, []string{"train", "data=thermal.yaml"}, bracket("train", "data=thermal.yaml"), ""},
		{"policy cpu", "rx6700xt", []string{"--policy", "cpu"}, []string{"train", "data=thermal.yaml"}, bracket("train", "data=thermal.yaml"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newYOLOWorld(t, "ok")
			args := append([]string{"run", "--root", example(t, tt.machine), "--history", w.db, "--recipe", "ultralytics"}, tt.flags...)
			args = append(append(args, "--", "yolo"), tt.args...)
			_, stderr, code := run(t, w.env, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if got := w.calls(t); len(got) != 1 || got[0] != tt.want {
				t.Errorf("yolo got %q\nwant %q", got, tt.want)
			}
			if tt.line == "" {
				if strings.Contains(stderr, "recipe") {
					t.Errorf("stderr has a recipe line:\n%s", stderr)
				}
			} else if !strings.HasPrefix(stderr, tt.line) {
				// The recipe's line comes first, before the decision.
				t.Errorf("stderr does not start with %q:\n%s", tt.line, stderr)
			}
			// History records the command as it ran.
			cmd := readHistory(t, w.db).Runs[0].Command
			if got := bracket(cmd[1:]...); cmd[0] != "yolo" || got != tt.want {
				t.Errorf("history command %q", cmd)
			}
		})
	}
}

// TestRunRecipeVerbose: another family gets no changes, and says why
// only under -v.
func TestRunRecipeVerbose(t *testing.T) {
	w := newYOLOWorld(t, "ok")
	_, stderr, code := run(t, w.env, "-v", "run", "--root", example(t, "rx7900xtx"), "--history", w.db, "--recipe", "ultralytics", "--", "yolo", "train")
	if code != 0 || !strings.Contains(stderr, "level=DEBUG") || !strings.Contains(stderr, "recipe ultralytics is for RDNA1, RDNA2; GPU 0 (gfx1100, RDNA3) gets no changes") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if got := w.calls(t); len(got) != 1 || got[0] != bracket("train") {
		t.Errorf("yolo got %q", got)
	}
}

// TestRunRecipeResume: with --resume ultralytics, attempt 1 gets the
// recipe; a retry that resumes gets only the resume form (the checkpoint
// keeps batch, amp and workers from attempt 1), with device=cpu on the
// CPU; a retry with no checkpoint yet starts the command again, recipe
// included, on the CPU too.
func TestRunRecipeResume(t *testing.T) {
	rx := example(t, "rx6700xt")
	first := bracket("train", "model=yolov8n.pt", "data=thermal.yaml", "batch=8", "amp=False", "workers=2")
	for _, tt := range []struct {
		name, mode string
		resume     bool
		exit       int
		calls      []string // %W: the checkpoint's path
	}{
		{"resumed", "resume", true, 0, []string{first, bracket("train", "resume", "model=%W")}},
		{"resumed on the CPU", "faulty", true, 134, []string{first, bracket("train", "resume", "model=%W"), bracket("train", "resume", "model=%W", "device=cpu")}},
		{"no checkpoint yet", "nosave", true, 134, []string{first, first, first}},
		{"without --resume", "faulty", false, 134, []string{first, first, first}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newYOLOWorld(t, tt.mode)
			work := t.TempDir()
			t.Chdir(work)
			args := []string{"run", "--root", rx, "--history", w.db, "--backoff", "10ms", "--recipe", "ultralytics"}
			if tt.resume {
				args = append(args, "--resume", "ultralytics")
			}
			args = append(args, "--", "yolo", "train", "model=yolov8n.pt", "data=thermal.yaml")
			_, stderr, code := run(t, w.env, args...)
			if code != tt.exit {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			weights := filepath.Join(work, "runs", "detect", "train", "weights", "last.pt")
			var want []string
			for _, c := range tt.calls {
				want = append(want, strings.ReplaceAll(c, "%W", weights))
			}
			if got := w.calls(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("yolo calls:\n%s\nwant\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), stderr)
			}
			if n := strings.Count(stderr, "recipe ultralytics (RDNA2 gfx1031): added batch=8 amp=False workers=2"); n != 1 {
				t.Errorf("the recipe line appears %d times:\n%s", n, stderr)
			}
		})
	}
}

// TestRunRecipeNotApplied: a command the recipe cannot change runs as
// given, with a warning that -q does not silence.
func TestRunRecipeNotApplied(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		says string
	}{
		{"not yolo", []string{"sh", "-c", "echo hi"}, "nothing added: the command is not an Ultralytics training command"},
		{"cfg file", []string{"yolo", "train", "cfg=mine.yaml"}, "nothing added: cfg=mine.yaml sets the arguments from a file"},
		{"resumed by hand", []string{"yolo", "train", "resume", "model=last.pt"}, "nothing added: the command resumes a run"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newYOLOWorld(t, "ok")
			_, stderr, code := run(t, w.env, append([]string{"run", "-q", "--root", example(t, "rx6700xt"), "--history", w.db, "--recipe", "ultralytics", "--"}, tt.args...)...)
			if code != 0 || !strings.Contains(stderr, "rocm-patch: recipe ultralytics (RDNA2 gfx1031): "+tt.says) {
				t.Errorf("exit %d\n%s", code, stderr)
			}
			if tt.args[0] == "yolo" {
				if got := w.calls(t); len(got) != 1 || got[0] != bracket(tt.args[1:]...) {
					t.Errorf("yolo got %q", got)
				}
			}
		})
	}
}

// TestRunRecipeLightning: advice on stderr, the command untouched.
func TestRunRecipeLightning(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	stdout, stderr, code := run(t, runEnv(t), "run", "--root", example(t, "rx5700xt"), "--history", db, "--recipe", "lightning", "--",
		"sh", "-c", `echo "$#" "$@"`, "sh", "train.py", "--epochs", "3")
	if code != 0 || stdout != "3 train.py --epochs 3\n" {
		t.Fatalf("exit %d stdout %q\n%s", code, stdout, stderr)
	}
	for _, w := range []string{
		"rocm-patch: recipe lightning (RDNA1 gfx1010): nothing added to the command; your script decides these settings, so set them there:\n",
		`  - keep full precision, Trainer(precision="32-true")`,
		"  - use fewer DataLoader workers, num_workers=2\n",
	} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
}

// TestRunRecipeUsage: an unknown recipe is a usage error, named with the
// known ones.
func TestRunRecipeUsage(t *testing.T) {
	_, stderr, code := run(t, runEnv(t), "run", "--recipe", "keras", "--", "true")
	if code != ExitUsage || !strings.Contains(stderr, `--recipe: unknown recipe "keras" (ultralytics, lightning)`) {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
