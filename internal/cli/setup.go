package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/assess"
	"github.com/rocm-patch/rocm-patch/internal/kparams"
	"github.com/rocm-patch/rocm-patch/internal/pypath"
	"github.com/rocm-patch/rocm-patch/internal/setup"
)

const setupExitCodes = `Exit codes:
  0  success, also when steps were answered no or had nothing to do
  1  error: a file setup would change holds an edited or copied rocm-patch
     block, a write failed, no answer came; undo: a change cannot be taken
     back safely (nothing was undone)
  2  bad flags; stdin is not a terminal and there is no --yes; HOME belongs
     to another user (sudo); undo of a kernel change without root`

// setupEUID is the effective user id setup checks HOME against; tests
// replace it.
var setupEUID = os.Geteuid

type setupFlags struct {
	yes, undo, dryRun bool
	root, policy      string
	shell, python     string
	profile, exe      string
	skip              []string
}

func (a *app) newSetupCommand() *cobra.Command {
	f := &setupFlags{}
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "One guided step for a new user: doctor, then the shell, Python and kernel steps, each asked",
		Long: `setup runs doctor, shows its plan, lists every change it would make, then
offers them one by one (y/N on the terminal; --yes accepts all for scripts):

  shell   a marked block in your shell's start-up file (~/.bashrc, the .zshrc
          of $ZDOTDIR or ~, fish's config.fish) that loads rocm-patch env in
          every new shell: eval "$(rocm-patch env)", or for fish
          rocm-patch env --shell fish | source. The block calls this binary
          by its absolute path and only when it is still there.
  python  rocm_patch.pth in the site-packages of python3 (or --python), so
          that "import rocm_patch" works outside rocm-patch run
  kernel  the amdgpu profile (--profile, default recommended) in
          /etc/modprobe.d, as rocm-patch kernel apply writes it: only as root,
          or under --root DIR, and only when it changes something here;
          otherwise setup prints the sudo command and skips it

The shell is chosen from $SHELL (--shell overrides). What setup changes is
listed before and after, and recorded in
$XDG_STATE_HOME/rocm-patch/setup.json (default ~/.local/state). A second run
changes nothing that is already in place.

setup --undo takes back exactly what setup recorded, newest first: a
start-up file gets its bytes from before setup back (a file setup created is
removed), the .pth file is removed, the kernel change is rolled back as
rocm-patch kernel rollback does. If you edited inside the block, or the block
appears more than once, undo refuses and changes nothing. Lines you added
around the block stay.

Run setup as yourself, not with sudo: it writes into your home folder.
See docs/setup.md.

` + setupExitCodes,
		Example: `  rocm-patch setup
  rocm-patch setup --dry-run
  rocm-patch setup --yes --skip kernel
  rocm-patch setup --shell zsh --python ~/venvs/train/bin/python
  rocm-patch setup --undo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.undo {
				return a.runSetupUndo(cmd, f)
			}
			return a.runSetup(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&f.yes, "yes", "y", false, "accept every step without asking (for scripts)")
	fl.BoolVar(&f.undo, "undo", false, "take back what setup recorded, newest first")
	fl.BoolVarP(&f.dryRun, "dry-run", "n", false, "show doctor and the changes, change nothing")
	fl.StringVar(&f.root, "root", "", "read (and, for the kernel step, write) the machine under `DIR` instead of /; HOME stays yours")
	fl.StringVar(&f.policy, "policy", string(assess.PolicyMitigate), "mitigate or cpu: the policy of doctor's plan and of the env the block loads")
	fl.StringVar(&f.shell, "shell", "", "bash, zsh or fish (default: from $SHELL)")
	fl.StringVar(&f.python, "python", "", "the interpreter `PATH` that gets the .pth (default: python3 on $PATH)")
	fl.StringVar(&f.profile, "profile", "recommended", "the amdgpu profile of the kernel step: recommended or thermal-2025")
	fl.StringVar(&f.exe, "exe", "", "the rocm-patch binary `PATH` the block and the Python package call (default: this one)")
	fl.StringArrayVar(&f.skip, "skip", nil, "leave out a `STEP`: shell, python or kernel; repeatable")
	return cmd
}

// asker asks one y/N question per step on the terminal; with --yes every
// answer is yes.
type asker struct {
	yes bool
	r   *bufio.Reader
	w   io.Writer
}

func (a *app) newAsker(yes bool) (*asker, error) {
	if yes {
		return &asker{yes: true}, nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return nil, withCode(ExitUsage, errors.New("setup asks before each change and stdin is not a terminal: pass --yes to accept every step from a script, or --dry-run to only list them; nothing was changed"))
	}
	// One reader for all questions: a second one would lose what the
	// first read ahead.
	return &asker{r: bufio.NewReader(f), w: a.stderr}, nil
}

// errNoAnswer ends the questions: stdin was closed.
var errNoAnswer = errors.New("no answer (end of input)")

func (q *asker) ask(question string) (bool, error) {
	if q.yes {
		return true, nil
	}
	fmt.Fprintf(q.w, "%s [y/N] ", question)
	line, err := q.r.ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(q.w)
		return false, errNoAnswer
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// detailPad indents what is shown under a step's summary.
const detailPad = "     "

// lines splits text into its lines, without the last newline.
func lines(text string) []string {
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

// setupStep is one step as setup shows and offers it.
type setupStep struct {
	step setup.Step
	// summary says what the step would do, or why it does nothing.
	summary string
	// detail is shown under the summary (the block, the diff), as it is.
	detail []string
	// question is asked when apply is set; a step without apply is
	// only shown.
	question string
	apply    func() (string, error)
}

func (a *app) runSetup(cmd *cobra.Command, f *setupFlags) error {
	policy, err := assess.ParsePolicy(f.policy)
	if err != nil || policy == assess.PolicyForceGPU {
		return usageError("--policy: %q is not mitigate or cpu", f.policy)
	}
	skip := map[setup.Step]bool{}
	for _, s := range f.skip {
		st, err := setup.ParseStep(s)
		if err != nil {
			return usageError("--skip: %v", err)
		}
		skip[st] = true
	}
	var sh setup.Shell
	if !skip[setup.StepShell] {
		if f.shell != "" {
			sh, err = setup.ParseShell(f.shell)
		} else {
			sh, err = setup.ShellFromPath(a.getenv("SHELL"))
		}
		if err != nil {
			return usageError("--shell: %v (or --skip shell)", err)
		}
	}
	home, err := setup.HomeFromEnv(a.environ)
	if err != nil {
		return usageError("%v: setup writes into the home folder", err)
	}
	if err := setup.CheckHomeOwner(home, setupEUID()); err != nil {
		return withCode(ExitUsage, err)
	}
	exe, err := a.setupExecutable(f.exe)
	if err != nil {
		return err
	}
	q, err := a.newAsker(f.yes || f.dryRun)
	if err != nil {
		return err
	}

	rep, _, err := a.assessMachine(cmd, f.root, policy)
	if err != nil {
		return err
	}
	if err := writeDoctor(a.stdout, rep); err != nil {
		return fmt.Errorf("setup: %w", err)
	}

	sess, err := setup.Open(home)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	defer sess.Close()

	var steps []*setupStep
	if skip[setup.StepShell] {
		steps = append(steps, &setupStep{step: setup.StepShell, summary: "skipped (--skip shell)"})
	} else if st, err := a.planShellStep(sess, sh, policy, exe); err != nil {
		return fmt.Errorf("setup: %w; nothing was changed", err)
	} else {
		steps = append(steps, st)
	}
	if skip[setup.StepPython] {
		steps = append(steps, &setupStep{step: setup.StepPython, summary: "skipped (--skip python)"})
	} else if st, err := a.planPythonStep(cmd, sess, f.python, exe); err != nil {
		return fmt.Errorf("setup: %w; nothing was changed", err)
	} else {
		steps = append(steps, st)
	}
	var after func() error
	if skip[setup.StepKernel] {
		steps = append(steps, &setupStep{step: setup.StepKernel, summary: "skipped (--skip kernel)"})
	} else {
		st, done, cleanup, err := a.planKernelStep(cmd, sess, f)
		if err != nil {
			return err
		}
		defer cleanup()
		steps = append(steps, st)
		after = done
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\nSetup for %s (HOME %s)\n", a.userLabel(), home.Dir)
	if u := a.getenv("SUDO_USER"); u != "" && setupEUID() == 0 {
		wrapText(&b, "  ", "note: ", fmt.Sprintf("running under sudo: the shell and Python steps are root's, not %s's; run setup as %s for those, and let it print the sudo command for the kernel step.", u, u))
	}
	offered := 0
	for i, st := range steps {
		wrapText(&b, "  ", fmt.Sprintf("%d. %-8s", i+1, string(st.step)+":"), st.summary)
		for _, d := range st.detail {
			b.WriteString(strings.TrimRight(d, " ") + "\n")
		}
		if st.apply != nil {
			offered++
		}
	}
	if _, err := io.WriteString(a.stdout, b.String()); err != nil {
		return err
	}
	if offered == 0 {
		fmt.Fprintln(a.stdout, "\nNothing to do: no step has anything to change.")
		return nil
	}
	if f.dryRun {
		fmt.Fprintln(a.stdout, "\nDry run: nothing was changed.")
		return nil
	}

	var changed []string
	var stepErr error
	for _, st := range steps {
		if st.apply == nil {
			continue
		}
		ok, err := q.ask(st.question)
		if err != nil {
			stepErr = withCode(ExitError, fmt.Errorf("%w; the remaining steps were not done", err))
			break
		}
		if !ok {
			fmt.Fprintf(a.stdout, "Skipped the %s step.\n", st.step)
			continue
		}
		done, err := st.apply()
		if err != nil {
			stepErr = fmt.Errorf("setup, %s step: %w", st.step, err)
			break
		}
		if !q.yes {
			fmt.Fprintln(a.stdout, done)
		}
		changed = append(changed, done)
	}

	b.Reset()
	if len(changed) == 0 {
		b.WriteString("\nNothing was changed.\n")
	} else {
		b.WriteString("\nChanged:\n")
		for _, c := range changed {
			fmt.Fprintf(&b, "  - %s\n", c)
		}
		fmt.Fprintf(&b, "Recorded in %s; rocm-patch setup --undo takes it back.\n", home.Short(sess.ManifestPath()))
	}
	io.WriteString(a.stdout, b.String())
	if stepErr != nil {
		return stepErr
	}
	if after != nil {
		return after()
	}
	return nil
}

// userLabel names the user for the heading.
func (a *app) userLabel() string {
	if u := a.getenv("USER"); u != "" {
		return u
	}
	return fmt.Sprintf("user id %d", setupEUID())
}

// setupExecutable picks the binary the block and the Python package call.
func (a *app) setupExecutable(flag string) (setup.Executable, error) {
	if flag != "" {
		abs, err := filepath.Abs(flag)
		if err != nil {
			return setup.Executable{}, usageError("--exe: %v", err)
		}
		fi, err := os.Stat(abs)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return setup.Executable{}, usageError("--exe %s: not an executable file", flag)
		}
		return setup.Executable{Path: abs}, nil
	}
	self, err := os.Executable()
	if err != nil {
		return setup.Executable{}, fmt.Errorf("setup: find this binary: %w", err)
	}
	return setup.ChooseExecutable(self, a.environ), nil
}

func temporaryReason(exe setup.Executable) string {
	return fmt.Sprintf("skipped: this rocm-patch is a temporary build (go run) at %s, which will be gone; build it (make build) or install it (go install ./cmd/rocm-patch) and run setup from there, or pass --exe PATH", exe.Path)
}

func (a *app) planShellStep(sess *setup.Session, sh setup.Shell, policy assess.Policy, exe setup.Executable) (*setupStep, error) {
	st := &setupStep{step: setup.StepShell}
	if exe.Temporary {
		st.summary = temporaryReason(exe)
		return st, nil
	}
	block, err := setup.Block(sh, setup.BlockOptions{Executable: exe.Path, Policy: string(policy)})
	if err != nil {
		return nil, err
	}
	p, err := sess.PlanShell(sh, block)
	if err != nil {
		return nil, err
	}
	home := sess.Home
	name := home.Short(p.File)
	if p.Target != p.File {
		name += " (a link to " + home.Short(p.Target) + ")"
	}
	switch p.Action {
	case setup.ShellNothing:
		st.summary = fmt.Sprintf("nothing to do: %s already holds the rocm-patch block.", name)
		if !p.Recorded {
			st.summary += fmt.Sprintf(" setup did not record it (%s), so --undo leaves it.", home.Short(sess.ManifestPath()))
		}
		return st, nil
	case setup.ShellUpdate:
		st.summary = fmt.Sprintf("replace the rocm-patch block an earlier setup added to %s with this one (%d lines), in place:", name, strings.Count(string(block), "\n"))
		st.question = fmt.Sprintf("Replace the block in %s?", name)
	default:
		n := strings.Count(string(block), "\n")
		st.summary = fmt.Sprintf("add this block (%d lines) to %s, so that every new %s loads the environment layer:", n, name, sh)
		if !p.Exists {
			st.summary = fmt.Sprintf("create %s with this block (%d lines), so that every new %s loads the environment layer:", name, n, sh)
		}
		st.question = fmt.Sprintf("Add the block to %s?", name)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(block), "\n"), "\n") {
		st.detail = append(st.detail, detailPad+"  "+line)
	}
	if sh == setup.Bash {
		if note := setup.BashLoginNote(home); note != "" {
			var nb strings.Builder
			wrapText(&nb, detailPad, "note: ", note)
			st.detail = append(st.detail, lines(nb.String())...)
		}
	}
	load := `eval "$(rocm-patch env)"`
	if sh == setup.Fish {
		load = "rocm-patch env --shell fish | source"
	}
	st.apply = func() (string, error) {
		c, err := sess.ApplyShell(p)
		if err != nil {
			return "", err
		}
		verb := "added the rocm-patch block to"
		switch {
		case p.Action == setup.ShellUpdate:
			verb = "replaced the rocm-patch block in"
		case c.Created:
			verb = "created with the rocm-patch block:"
		}
		return fmt.Sprintf("%s: %s %s (new shells load it; for this one: %s)", string(setup.StepShell), verb, name, load), nil
	}
	return st, nil
}

func (a *app) planPythonStep(cmd *cobra.Command, sess *setup.Session, python string, exe setup.Executable) (*setupStep, error) {
	st := &setupStep{step: setup.StepPython}
	if exe.Temporary {
		st.summary = temporaryReason(exe)
		return st, nil
	}
	o := pypath.Options{Python: python, Environ: a.environ, Executable: exe.Path}
	p, err := sess.PlanPython(cmd.Context(), o)
	if err != nil {
		if python != "" {
			return nil, fmt.Errorf("--python: %w", err)
		}
		st.summary = fmt.Sprintf("skipped: %v.", err)
		return st, nil
	}
	file := sess.Home.Short(p.PthFile)
	if p.Nothing {
		st.summary = fmt.Sprintf("nothing to do: %s, installed by an earlier setup, is in place.", file)
		return st, nil
	}
	if !p.Site.Venv && !p.Site.UserSiteEnabled {
		st.summary = fmt.Sprintf("skipped: python %s reads no user site-packages (PYTHONNOUSERSITE?), so a .pth there would do nothing; activate a virtualenv or pass --python.", p.Site.Python)
		return st, nil
	}
	where := "user site-packages"
	if p.Site.Venv {
		where = "virtualenv"
	}
	st.summary = fmt.Sprintf("install %s for python %s (%s, %s), so that `import rocm_patch` works outside rocm-patch run; the package itself goes under %s.",
		file, p.Site.Python, p.Site.Version, where, sess.Home.Short(dataFolder(a.environ)))
	st.question = fmt.Sprintf("Install %s?", file)
	st.apply = func() (string, error) {
		c, res, err := sess.ApplyPython(cmd.Context(), p)
		if err != nil {
			return "", err
		}
		if c == nil {
			return fmt.Sprintf("python: %s was already in place as rocm-patch writes it; not recorded, so --undo leaves it", sess.Home.Short(res.PthFile)), nil
		}
		return fmt.Sprintf("python: installed %s, naming %s", sess.Home.Short(res.PthFile), sess.Home.Short(res.PackageDir)), nil
	}
	return st, nil
}

// dataFolder is where pypath keeps the package, for the listing.
func dataFolder(environ []string) string {
	root, err := pypath.DataRoot(environ)
	if err != nil {
		return "the data folder"
	}
	return filepath.Join(root, "rocm-patch", "python")
}

// planKernelStep plans the amdgpu profile with kernel apply's code. It
// returns what to print after the changes (initramfs, reboot) and the
// cleanup of the kernel session.
func (a *app) planKernelStep(cmd *cobra.Command, sess *setup.Session, f *setupFlags) (*setupStep, func() error, func(), error) {
	kf := &kernelFlags{root: f.root, profile: f.profile}
	ks, err := a.openKernel(cmd, kf, true)
	if err != nil {
		return nil, nil, func() {}, err
	}
	p, err := ks.plan(kf)
	if err != nil {
		ks.cleanup()
		return nil, nil, func() {}, err
	}
	st := &setupStep{step: setup.StepKernel}
	var applied bool
	after := func() error {
		if !applied {
			return nil
		}
		return a.afterWrite(cmd, ks, p.Initramfs, p.CmdLine, p.GrubUpdate, false)
	}
	where := kparams.ConfPath
	if !ks.root.IsHost() {
		where += " under " + ks.root.Dir()
	}
	switch {
	case p.NothingToDo:
		st.summary = fmt.Sprintf("nothing to do: no parameter of profile %s changes anything on this machine.", f.profile)
		return st, after, ks.cleanup, nil
	case p.Unchanged:
		st.summary = fmt.Sprintf("nothing to do: %s already holds profile %s.", where, f.profile)
		return st, after, ks.cleanup, nil
	}
	var written []string
	for _, pr := range p.Params {
		written = append(written, pr.CmdLine())
	}
	if err := kparams.CheckPermission(ks.root); err != nil {
		st.summary = kernelSkipReason(err, kf, written)
		return st, after, ks.cleanup, nil
	}
	st.summary = fmt.Sprintf("write %s (profile %s: %s), as rocm-patch kernel apply does; it takes effect after the initramfs is rebuilt and a reboot:", where, f.profile, strings.Join(written, " "))
	var kb strings.Builder
	for _, it := range p.Items {
		if it.Write {
			writeKernelItem(&kb, it, p.Loaded)
		}
	}
	kb.WriteString("\nDiff\n")
	kb.WriteString(p.Diff)
	for _, l := range lines(kb.String()) {
		st.detail = append(st.detail, "   "+l)
	}
	st.question = fmt.Sprintf("Write %s?", kparams.ConfPath)
	st.apply = func() (string, error) {
		c, res, err := sess.ApplyKernel(ks.root, p)
		if err != nil {
			return "", err
		}
		applied = true
		what := "kept the file it replaced in " + res.Previous.Backup
		if c.Created {
			what = "there was none before"
		}
		return fmt.Sprintf("kernel: wrote %s (%s; %s)", where, strings.Join(written, " "), what), nil
	}
	return st, after, ks.cleanup, nil
}

// kernelSkipReason says why the kernel step is not offered, with the
// command that does it.
func kernelSkipReason(err error, kf *kernelFlags, written []string) string {
	what := strings.Join(written, " ")
	if errors.Is(err, kparams.ErrNotRoot) {
		return fmt.Sprintf("skipped: writing %s (%s) needs root; setup writes your home folder, so run it as yourself and then: sudo rocm-patch kernel apply%s", kparams.ConfPath, what, kf.args())
	}
	return fmt.Sprintf("skipped: %v; give a --root you can write, or run rocm-patch kernel apply%s as root.", err, kf.args())
}

func (a *app) runSetupUndo(cmd *cobra.Command, f *setupFlags) error {
	for _, name := range []string{"root", "policy", "shell", "python", "profile", "exe", "skip"} {
		if cmd.Flags().Changed(name) {
			return usageError("--undo takes back what the manifest records, wherever it was; --%s has no meaning with it", name)
		}
	}
	home, err := setup.HomeFromEnv(a.environ)
	if err != nil {
		return usageError("%v: the setup manifest is in the home folder", err)
	}
	if err := setup.CheckHomeOwner(home, setupEUID()); err != nil {
		return withCode(ExitUsage, err)
	}
	sess, err := setup.Open(home)
	if err != nil {
		return fmt.Errorf("setup --undo: %w", err)
	}
	defer sess.Close()
	manifest := home.Short(sess.ManifestPath())
	if len(sess.Manifest.Changes) == 0 {
		fmt.Fprintf(a.stdout, "Nothing to undo: %s records no change.\n", manifest)
		return nil
	}
	q, err := a.newAsker(f.yes || f.dryRun)
	if err != nil {
		return err
	}
	undos, err := sess.PlanUndo(cmd.Context(), setup.UndoOptions{Environ: a.environ})
	if errors.Is(err, kparams.ErrNotRoot) {
		return withCode(ExitUsage, fmt.Errorf("setup --undo: %w; nothing was undone", err))
	}
	if err != nil {
		return fmt.Errorf("setup --undo: %w; nothing was undone", err)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Undo of what setup recorded in %s, newest first:\n", manifest)
	for i, u := range undos {
		wrapText(&b, "  ", fmt.Sprintf("%d. %-8s", i+1, string(u.Change.Step)+":"), undoText(home, u))
		if u.Note != "" {
			wrapText(&b, detailPad, "note: ", u.Note)
		}
	}
	io.WriteString(a.stdout, b.String())
	if f.dryRun {
		fmt.Fprintln(a.stdout, "\nDry run: nothing was changed.")
		return nil
	}

	var done []string
	var stepErr error
	for _, u := range undos {
		if u.Action != setup.UndoForget {
			ok, err := q.ask(undoQuestion(home, u))
			if err != nil {
				stepErr = withCode(ExitError, fmt.Errorf("%w; the remaining changes were not undone", err))
				break
			}
			if !ok {
				fmt.Fprintf(a.stdout, "Kept the %s change.\n", u.Change.Step)
				continue
			}
		}
		if err := sess.Undo(cmd.Context(), u); err != nil {
			stepErr = fmt.Errorf("setup --undo, %s step: %w", u.Change.Step, err)
			break
		}
		line := undoneText(home, u)
		if !q.yes {
			fmt.Fprintln(a.stdout, line)
		}
		done = append(done, line)
	}
	b.Reset()
	if len(done) == 0 {
		b.WriteString("\nNothing was changed.\n")
	} else {
		b.WriteString("\nUndone:\n")
		for _, d := range done {
			fmt.Fprintf(&b, "  - %s\n", d)
		}
		if n := len(sess.Manifest.Changes); n > 0 {
			fmt.Fprintf(&b, "%d change(s) still recorded in %s.\n", n, manifest)
		} else {
			b.WriteString("Nothing of setup is recorded any more.\n")
		}
	}
	io.WriteString(a.stdout, b.String())
	return stepErr
}

func undoText(h setup.Home, u *setup.Undo) string {
	c := u.Change
	file := h.Short(c.File)
	switch u.Action {
	case setup.UndoRestore:
		return fmt.Sprintf("take the rocm-patch block, and what setup put before it, out of %s", file)
	case setup.UndoRemoveFile:
		return fmt.Sprintf("remove %s, which setup created and which holds nothing else", file)
	case setup.UndoUninstall:
		return fmt.Sprintf("remove %s", file)
	case setup.UndoRollback:
		return fmt.Sprintf("restore %s under %s as it was before setup (rocm-patch kernel rollback)", c.File, c.Kernel.Root)
	case setup.UndoRollbackRemove:
		return fmt.Sprintf("remove %s under %s, which setup created (rocm-patch kernel rollback)", c.File, c.Kernel.Root)
	}
	return fmt.Sprintf("nothing to take back from %s; forget the record", file)
}

func undoQuestion(h setup.Home, u *setup.Undo) string {
	file := h.Short(u.Change.File)
	switch u.Action {
	case setup.UndoRestore:
		return fmt.Sprintf("Take the block out of %s?", file)
	case setup.UndoRollback:
		return fmt.Sprintf("Restore %s?", u.Change.File)
	case setup.UndoRollbackRemove:
		return fmt.Sprintf("Remove %s?", u.Change.File)
	}
	return fmt.Sprintf("Remove %s?", file)
}

func undoneText(h setup.Home, u *setup.Undo) string {
	c := u.Change
	file := h.Short(c.File)
	switch u.Action {
	case setup.UndoRestore:
		return fmt.Sprintf("%s: took the block out of %s", c.Step, file)
	case setup.UndoRemoveFile:
		return fmt.Sprintf("%s: removed %s", c.Step, file)
	case setup.UndoUninstall:
		return fmt.Sprintf("%s: removed %s", c.Step, file)
	case setup.UndoRollback, setup.UndoRollbackRemove:
		verb := "restored"
		if u.Action == setup.UndoRollbackRemove {
			verb = "removed"
		}
		s := fmt.Sprintf("%s: %s %s under %s; rebuild the initramfs and reboot for the driver to see it", c.Step, verb, c.File, c.Kernel.Root)
		if u.Rollback != nil && u.Rollback.SavedEdited != "" {
			s += fmt.Sprintf(" (it had been edited since; that version is kept in %s)", u.Rollback.SavedEdited)
		}
		return s
	}
	return fmt.Sprintf("%s: forgot the record of %s", c.Step, file)
}
