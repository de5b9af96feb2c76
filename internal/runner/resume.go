package runner

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/lazyre"
)

// Recipe is a way to make a retry continue a training job instead of
// starting it again.
type Recipe string

// The recipes --resume accepts.
const (
	// RecipeNone: a retry runs the command as given (plus --resume-args).
	RecipeNone Recipe = ""
	// RecipeUltralytics: a retry runs `yolo train resume
	// model=<this run's newest weights/last.pt>`.
	RecipeUltralytics Recipe = "ultralytics"
	// RecipeLightning: a retry gets ROCM_PATCH_RESUME=last, for a script
	// whose trainer.fit passes ckpt_path="last".
	RecipeLightning Recipe = "lightning"
)

// Recipes lists the named recipes, for help and errors.
var Recipes = []Recipe{RecipeUltralytics, RecipeLightning}

// ParseRecipe reads a --resume value.
func ParseRecipe(s string) (Recipe, error) {
	for _, r := range Recipes {
		if string(r) == s {
			return r, nil
		}
	}
	if s == "" {
		return RecipeNone, nil
	}
	return RecipeNone, fmt.Errorf("unknown recipe %q (ultralytics or lightning)", s)
}

// Environment variables the child sees.
const (
	// EnvAttempt is the attempt number, 1, 2, ...
	EnvAttempt = "ROCM_PATCH_ATTEMPT"
	// EnvDevice is "gpu" or "cpu".
	EnvDevice = "ROCM_PATCH_DEVICE"
	// EnvRunDir is the run's directory (logs); a script may keep its own
	// resume state there.
	EnvRunDir = "ROCM_PATCH_RUN_DIR"
	// EnvResume is "last" on the retries of --resume lightning.
	EnvResume = "ROCM_PATCH_RESUME"
)

// NothingToResume is what Ultralytics prints when the checkpoint it was
// asked to resume already finished its epochs: the job is done.
const NothingToResume = "nothing to resume"

// ultralyticsWeights is where Ultralytics keeps a run's last checkpoint,
// relative to the folder it runs in: runs/<task>/<name>/weights/last.pt.
const ultralyticsWeights = "runs/*/*/weights/last.pt"

// mtimeSlack allows for file systems that store modification times in
// whole seconds (or two), so a checkpoint written in the run's first
// second still counts as this run's.
const mtimeSlack = 2 * time.Second

// FindUltralyticsWeights returns this run's newest last.pt under dir: the
// most recently modified runs/*/*/weights/last.pt modified since the run
// started. ok is false when there is none (nothing was saved yet).
func FindUltralyticsWeights(dir string, since time.Time) (path string, ok bool, err error) {
	matches, err := fs.Glob(os.DirFS(dir), ultralyticsWeights)
	if err != nil {
		return "", false, fmt.Errorf("looking for %s under %s: %w", ultralyticsWeights, dir, err)
	}
	var newest time.Time
	for _, m := range matches {
		fi, err := os.Stat(filepath.Join(dir, m))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		mt := fi.ModTime()
		if mt.Before(since.Add(-mtimeSlack)) || (ok && !mt.After(newest)) {
			continue
		}
		path, newest, ok = filepath.Join(dir, m), mt, true
	}
	return path, ok, nil
}

// UltralyticsResumeArgv is the command of a resumed Ultralytics job: the
// user's yolo (when the command was one) with `train resume
// model=<weights>`, and device=cpu for an attempt on the CPU, where
// Ultralytics would otherwise ask for the GPU the checkpoint names.
func UltralyticsResumeArgv(orig []string, weights string, cpu bool) []string {
	yolo := "yolo"
	if len(orig) > 0 && filepath.Base(orig[0]) == "yolo" {
		yolo = orig[0]
	}
	argv := []string{yolo, "train", "resume", "model=" + weights}
	if cpu {
		argv = append(argv, "device=cpu")
	}
	return argv
}

// lightningResume recognises a script that resumes from "last" or reads
// ROCM_PATCH_RESUME.
var lightningResume = lazyre.New(`ckpt_path\s*=\s*["']last["']|` + EnvResume)

// maxScriptBytes bounds how much of a script LightningCheck reads.
const maxScriptBytes = 4 << 20

// LightningCheck looks through the Python scripts named on the command
// line (relative to dir) for ckpt_path="last" or ROCM_PATCH_RESUME. It
// returns the scripts that mention neither; a script it cannot read, or a
// command with no .py argument (python -m pkg), is not judged, since
// rocm-patch cannot follow Python's imports.
func LightningCheck(argv []string, dir string) []string {
	var missing []string
	for _, a := range argv {
		if !strings.HasSuffix(a, ".py") {
			continue
		}
		p := a
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(f, maxScriptBytes))
		f.Close()
		if err != nil {
			continue
		}
		if !lightningResume().Match(data) {
			missing = append(missing, a)
		}
	}
	return missing
}

// resumeMarker reports whether an output line says that an Ultralytics
// job has nothing left to resume.
func resumeMarker(line []byte) bool {
	return bytes.Contains(line, []byte(NothingToResume))
}
