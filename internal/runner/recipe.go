package runner

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// YOLOCommand is what an Ultralytics command line asks for, read the way
// Ultralytics' own entry point (ultralytics/cfg/__init__.py, entrypoint)
// reads it: words joined around a lone "=" and inside [...], leading "--"
// and a trailing "," dropped, key=value words as settings, bare words as
// the task, the mode, a special command or a boolean switched on.
type YOLOCommand struct {
	// Start is the index in argv of Ultralytics' first own argument.
	Start int
	// Mode is the last mode given ("train", "val", ...), "" when none.
	Mode string
	// Special is a special command (help, checks, settings, ...), which
	// Ultralytics runs instead of anything else; "" when none.
	Special string
	// Set maps each key the command sets to how it was written
	// ("batch=16", or "amp" for a bare boolean).
	Set map[string]string
	// Cfg is the file of a cfg=FILE argument, from which Ultralytics takes
	// every setting; "" when none.
	Cfg string
	// Resume says the command resumes a run (resume, or resume=<not
	// false>): the checkpoint's arguments apply.
	Resume bool
	// words are the arguments after joining, as Ultralytics sees them.
	words []string
}

// Training reports whether the command trains: the train mode and no
// special command.
func (c YOLOCommand) Training() bool {
	return c.Mode == "train" && c.Special == ""
}

// Ultralytics' tasks and modes (ultralytics/cfg/__init__.py); a bare word
// among them sets the task or the mode.
var (
	yoloTasks = []string{"detect", "segment", "classify", "pose", "obb", "semantic"}
	yoloModes = []string{"train", "val", "predict", "export", "track", "benchmark"}
	// yoloSpecial are the words that make Ultralytics run something other
	// than a mode; it also takes their first letter, their singular, and
	// each with "-" or "--" in front.
	yoloSpecial = []string{"help", "checks", "version", "settings", "cfg", "hub", "login", "logout", "copy-cfg", "solutions"}
)

// pythonName matches the interpreters that may run `-m ultralytics`.
var pythonName = regexp.MustCompile(`^python[0-9.]*$`)

// ParseYOLOCommand reads argv as Ultralytics would. ok is false when argv
// does not start Ultralytics' command line: yolo, ultralytics (both are
// its console scripts) or python -m ultralytics. It is a pure function and
// never panics.
func ParseYOLOCommand(argv []string) (YOLOCommand, bool) {
	start, ok := yoloStart(argv)
	if !ok {
		return YOLOCommand{}, false
	}
	c := YOLOCommand{Start: start, Set: map[string]string{}}
	c.words = joinYOLOWords(argv[start:])
	for _, w := range c.words {
		w = strings.TrimPrefix(w, "--")
		w = strings.TrimSuffix(w, ",")
		if k, v, isKV := strings.Cut(w, "="); isKV {
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch k {
			case "cfg":
				c.Cfg = v
			case "mode":
				c.Mode = v
			case "resume":
				c.Resume = !slices.Contains([]string{"", "false", "none", "0"}, strings.ToLower(v))
			}
			c.Set[k] = k + "=" + v
			continue
		}
		switch {
		case slices.Contains(yoloTasks, w):
		case slices.Contains(yoloModes, w):
			c.Mode = w
		case isYOLOSpecial(w):
			if c.Special == "" {
				c.Special = w
			}
		default:
			// A bare boolean argument switches it on ("amp"), and any
			// other bare word is an error in Ultralytics; either way the
			// user named the key, so a recipe must leave it alone.
			if w == "resume" {
				c.Resume = true
			}
			c.Set[w] = w
		}
	}
	return c, true
}

// yoloStart finds where Ultralytics' arguments begin.
func yoloStart(argv []string) (int, bool) {
	if len(argv) == 0 {
		return 0, false
	}
	switch base := filepath.Base(argv[0]); {
	case base == "yolo" || base == "ultralytics":
		return 1, true
	case pythonName.MatchString(base):
	default:
		return 0, false
	}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-m":
			return i + 2, i+1 < len(argv) && argv[i+1] == "ultralytics"
		case strings.HasPrefix(a, "-m") && !strings.HasPrefix(a, "--"):
			return i + 1, a == "-multralytics"
		case a == "-W" || a == "-X" || a == "--check-hash-based-pycs":
			i++ // the option's value
		case a == "-c" || a == "-" || !strings.HasPrefix(a, "-"):
			// A command string, standard input or a script: not the
			// module.
			return 0, false
		}
	}
	return 0, false
}

// joinYOLOWords joins words the way Ultralytics does before reading them:
// "k", "=", "v" and "k=", "v" and "k", "=v" become "k=v", and the pieces
// of a list split by the shell ("imgsz=[640,", "480]") become one word.
func joinYOLOWords(args []string) []string {
	var out []string
	cur, depth := "", 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "=" && i > 0 && i < len(args)-1 && len(out) > 0:
			out[len(out)-1] += "=" + args[i+1]
			i++
			continue
		case strings.HasSuffix(a, "=") && i < len(args)-1 && !strings.Contains(args[i+1], "="):
			out = append(out, a+args[i+1])
			i++
			continue
		case strings.HasPrefix(a, "=") && i > 0 && len(out) > 0:
			out[len(out)-1] += a
			continue
		}
		depth += strings.Count(a, "[") - strings.Count(a, "]")
		cur += a
		if depth == 0 {
			out = append(out, cur)
			cur = ""
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

func isYOLOSpecial(w string) bool {
	w = strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(w, "-"), "-"))
	for _, s := range yoloSpecial {
		if w == s || w == s[:1] || (len(s) > 1 && strings.HasSuffix(s, "s") && w == s[:len(s)-1]) {
			return true
		}
	}
	return false
}

// TrainingChange is what a training recipe (run --recipe) does to one
// run: the command every attempt that starts the job runs, and what run
// says about it.
type TrainingChange struct {
	Recipe *kb.TrainingRecipe
	// GPUs are the GPUs in use that the recipe is for; empty when it is
	// for none of them, or the job runs on the CPU.
	GPUs []assess.GPUReport
	// Argv is the command: the user's, with Added appended.
	Argv []string
	// Added are the recipe's arguments put on the command line.
	Added []kb.RecipeArgument
	// Kept are the recipe's keys the user set, as the user wrote them.
	Kept []string
	// Lines are what run prints before the first attempt, unless -q.
	Lines []string
	// Warnings are printed even with -q: the recipe was asked for and
	// could not be applied.
	Warnings []string
	// Debug says why the recipe changes nothing here (another GPU family,
	// the CPU); for -v.
	Debug string
}

// PlanTraining decides what recipe r does to argv on the machine rep
// describes. It changes nothing when the job runs on the CPU or on GPUs
// the recipe is not for; otherwise a yolo-train recipe appends each of its
// arguments that the user did not set, and a script recipe only advises.
// The additions go into the command itself, so every attempt that starts
// the command again (the CPU attempt included) trains with the same
// settings, and history records what ran; a resumed Ultralytics attempt
// (--resume ultralytics) gets none, since the checkpoint keeps the
// arguments it was started with. It is a pure function.
func PlanTraining(r *kb.TrainingRecipe, argv []string, rep *assess.Report) TrainingChange {
	tc := TrainingChange{Recipe: r, Argv: append([]string(nil), argv...)}
	if r == nil || rep == nil {
		return tc
	}
	if rep.Plan.Device != assess.DeviceGPU {
		tc.Debug = fmt.Sprintf("recipe %s: the job runs on the CPU (policy %s); nothing added", r.Name, rep.Plan.Policy)
		return tc
	}
	used := GPUsInUse(rep)
	for _, g := range used {
		if r.For(g.Target, g.Family) {
			tc.GPUs = append(tc.GPUs, g)
		}
	}
	if len(tc.GPUs) == 0 {
		tc.Debug = fmt.Sprintf("recipe %s is for %s; %s gets no changes", r.Name, selectorText(r.Only), gpuFamilies(used))
		return tc
	}
	head := fmt.Sprintf("%srecipe %s (%s)", Prefix, r.Name, recipeGPUs(tc.GPUs))
	switch r.Command {
	case kb.CommandScript:
		tc.Lines = append(tc.Lines, head+": nothing added to the command; your script decides these settings, so set them there:")
		for _, a := range r.Advice {
			tc.Lines = append(tc.Lines, "  - "+strings.Join(strings.Fields(a), " "))
		}
	case kb.CommandYOLOTrain:
		tc.planYOLO(head, argv)
	}
	return tc
}

// planYOLO appends the recipe's arguments the user did not set.
func (tc *TrainingChange) planYOLO(head string, argv []string) {
	r := tc.Recipe
	c, ok := ParseYOLOCommand(argv)
	var why string
	switch {
	case !ok || !c.Training():
		why = fmt.Sprintf("the command is not an Ultralytics training command (yolo train ..., python -m ultralytics train ...); in Python, pass %s to model.train()", pythonKwargs(r.Arguments))
	case c.Resume:
		why = "the command resumes a run, which keeps the arguments it was started with"
	case c.Cfg != "":
		why = fmt.Sprintf("cfg=%s sets the arguments from a file rocm-patch does not read, and an addition could override it", c.Cfg)
	}
	if why != "" {
		tc.Warnings = append(tc.Warnings, head+": nothing added: "+why)
		return
	}
	var add []string
	for _, a := range r.Arguments {
		if as, set := c.Set[a.Key]; set {
			tc.Kept = append(tc.Kept, as)
			continue
		}
		tc.Added = append(tc.Added, a)
		add = append(add, a.String())
	}
	if len(add) > 0 {
		out := append(append([]string(nil), argv...), add...)
		// Ultralytics joins words around "=" and inside brackets: after a
		// command ending in "imgsz=[640," the additions would become part
		// of the user's value. Nothing is added unless Ultralytics would
		// read the user's words unchanged and each addition on its own.
		after, _ := ParseYOLOCommand(out)
		if !slices.Equal(after.words, append(append([]string(nil), c.words...), add...)) {
			tc.Added = nil
			tc.Warnings = append(tc.Warnings, head+": nothing added: the command's last words would join with the additions; end it with a complete key=value")
			return
		}
		tc.Argv = out
	}
	line := head + ": added " + strings.Join(add, " ")
	if len(add) == 0 {
		line = head + ": added nothing"
	}
	if len(tc.Kept) > 0 {
		line += "; kept your " + strings.Join(tc.Kept, " ")
	}
	tc.Lines = append(tc.Lines, line)
}

// pythonKwargs writes arguments as Python keyword arguments:
// "batch=8, amp=False, workers=2".
func pythonKwargs(args []kb.RecipeArgument) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}

// recipeGPUs names the GPUs a recipe applies to: "RDNA2 gfx1031".
func recipeGPUs(gpus []assess.GPUReport) string {
	var parts []string
	for _, g := range gpus {
		s := strings.TrimSpace(g.Family + " " + g.Target)
		if !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// gpuFamilies names GPUs with their families: "GPU 0 (gfx1100, RDNA3)".
func gpuFamilies(gpus []assess.GPUReport) string {
	if len(gpus) == 0 {
		return "this machine"
	}
	parts := make([]string, len(gpus))
	for i, g := range gpus {
		parts[i] = fmt.Sprintf("GPU %d (%s, %s)", g.Index, g.Target, g.Family)
	}
	return strings.Join(parts, ", ")
}

// selectorText names what a selector takes: "RDNA1, RDNA2".
func selectorText(s *kb.Selector) string {
	if s == nil {
		return "every GPU"
	}
	return strings.Join(append(append([]string(nil), s.Families...), s.Targets...), ", ")
}
