package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/rocm-patch/rocm-patch/internal/envlayer"
	"github.com/rocm-patch/rocm-patch/internal/fsroot"
	"github.com/rocm-patch/rocm-patch/internal/kb"
	"github.com/rocm-patch/rocm-patch/internal/kparams"
	"github.com/rocm-patch/rocm-patch/internal/snapshot"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

const kernelExitCodes = `Exit codes:
  0  success; nothing to do; verify: every wanted parameter took
  1  error (I/O, a file changed since it was planned), or the answer was no
  2  refused before writing anything: bad flags, an invalid or unknown
     parameter, not root, no terminal to confirm on and no --yes
  3  verify: a parameter did not take, or amdgpu is not loaded`

// profileNone selects no profile: only the --set parameters.
const profileNone = "none"

// kernelFlags are the flags the kernel subcommands share.
type kernelFlags struct {
	root         string
	profile      string
	set          []string
	allowUnknown bool
	includeNoOp  bool
}

func (f *kernelFlags) register(cmd *cobra.Command, planning bool) {
	cmd.Flags().StringVar(&f.root, "root", "", "work on the machine under `DIR` instead of / (a tree such as examples/systems/rx5700xt, or an image being built)")
	if !planning {
		return
	}
	cmd.Flags().StringVar(&f.profile, "profile", "recommended", "the profile of the knowledge base: recommended, thermal-2025, or none (only --set)")
	cmd.Flags().StringArrayVar(&f.set, "set", nil, "also write `NAME=VALUE` (an amdgpu parameter, with or without the amdgpu. prefix); repeatable")
	cmd.Flags().BoolVar(&f.allowUnknown, "allow-unknown", false, "accept --set parameters that the settings catalogue does not know (their syntax is still checked)")
	cmd.Flags().BoolVar(&f.includeNoOp, "include-noop", false, "also write the profile's parameters that change nothing on this machine")
}

// args renders the flags back, for the command a refusal tells the user
// to run.
func (f *kernelFlags) args() string {
	var out []string
	if f.profile != "recommended" {
		out = append(out, "--profile", shellArg(f.profile))
	}
	for _, s := range f.set {
		out = append(out, "--set", shellArg(s))
	}
	if f.allowUnknown {
		out = append(out, "--allow-unknown")
	}
	if f.includeNoOp {
		out = append(out, "--include-noop")
	}
	if f.root != "" {
		out = append(out, "--root", shellArg(f.root))
	}
	if len(out) == 0 {
		return ""
	}
	return " " + strings.Join(out, " ")
}

// kernelSession is what every kernel subcommand reads before it acts.
type kernelSession struct {
	root    *fsroot.Root
	cleanup func()
	sys     *system.System
	machine *kparams.Machine
	kb      *kb.KB
}

func (a *app) openKernel(cmd *cobra.Command, f *kernelFlags, writing bool) (*kernelSession, error) {
	if writing && f.root != "" && snapshot.IsArchive(f.root) {
		return nil, usageError("--root %s is a snapshot archive; give a folder to write into", f.root)
	}
	root, cleanup, err := openRoot(f.root)
	if err != nil {
		return nil, err
	}
	s := &kernelSession{root: root, cleanup: cleanup}
	fail := func(err error) (*kernelSession, error) {
		cleanup()
		return nil, err
	}
	if s.sys, err = system.Detect(cmd.Context(), root, a.detectOptions()); err != nil {
		return fail(err)
	}
	if s.machine, err = kparams.ReadMachine(root, s.sys); err != nil {
		return fail(err)
	}
	if s.kb, err = kb.Load(); err != nil {
		return fail(err)
	}
	return s, nil
}

// plan builds the plan of the flags; every refusal is a usage error.
func (s *kernelSession) plan(f *kernelFlags) (*kparams.Plan, error) {
	req := kparams.Request{AllowUnknown: f.allowUnknown, IncludeNoOp: f.includeNoOp}
	if f.profile != profileNone {
		p, ok := s.kb.Profile(f.profile)
		if !ok {
			var names []string
			for _, p := range s.kb.Profiles() {
				names = append(names, p.Name)
			}
			return nil, usageError("--profile: unknown profile %q (want %s or %s)", f.profile, strings.Join(names, ", "), profileNone)
		}
		req.Profile = p
	}
	for _, a := range f.set {
		p, err := kparams.ParseAssignment(a)
		if err != nil {
			return nil, usageError("--set: %v", err)
		}
		req.Set = append(req.Set, p)
	}
	if req.Profile == nil && len(req.Set) == 0 {
		return nil, usageError("--profile none needs at least one --set NAME=VALUE")
	}
	p, err := kparams.Build(s.kb, s.machine, req)
	if errors.Is(err, kparams.ErrUnknown) {
		return nil, usageError("%v; pass --allow-unknown to write it anyway", err)
	}
	if err != nil {
		return nil, usageError("%v", err)
	}
	return p, nil
}

func (a *app) newKernelCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kernel",
		Short: "Plan, apply, roll back and verify amdgpu module parameters (Layer 1)",
		Long: `kernel manages the amdgpu module parameters rocm-patch writes to
/etc/modprobe.d/rocm-patch-amdgpu.conf, from the profiles of its knowledge base:

  recommended    only what the project's research supports for the detected
                 GPUs: nothing on RDNA1 and RDNA2; amdgpu.cwsr_enable=0 on RDNA3,
                 RDNA3.5 and RDNA4 (reported to help with ROCm issue 5051)
  thermal-2025   the four parameters of the project's first write-up, name
                 corrected (gttsize, not gtt_size), each shown with what it
                 really does and whether it changes anything here

Parameters that change nothing on this machine are shown and not written;
a profile that changes nothing writes nothing. Every value is checked
against the settings catalogue before anything is written.

  plan      print the file, its diff against the current one, and each
            parameter's meaning and live value
  apply     write the file (root only; asks on a terminal, --yes for scripts)
  rollback  restore the file the last apply replaced, byte for byte
  verify    after a reboot, name the parameters that did not take

See docs/kernel.md.

` + kernelExitCodes,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.newKernelPlanCommand(), a.newKernelApplyCommand(), a.newKernelRollbackCommand(), a.newKernelVerifyCommand())
	return cmd
}

func (a *app) newKernelPlanCommand() *cobra.Command {
	f := &kernelFlags{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print what apply would write, why, and what it changes here",
		Long: `plan prints, for the chosen profile on this machine: each parameter's true
meaning, what it costs, whether it changes anything on the detected GPUs and
its live value in /sys/module/amdgpu/parameters; then the file apply would
write, the diff against the current one, the kernel command line equivalent
for GRUB users and the initramfs command of this distribution. It writes
nothing and needs no privileges.

` + kernelExitCodes,
		Example: `  rocm-patch kernel plan
  rocm-patch kernel plan --profile thermal-2025
  rocm-patch kernel plan --profile none --set amdgpu.cwsr_enable=0
  rocm-patch kernel plan --profile thermal-2025 --root examples/systems/rx5700xt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.openKernel(cmd, f, false)
			if err != nil {
				return err
			}
			defer s.cleanup()
			p, err := s.plan(f)
			if err != nil {
				return err
			}
			var b strings.Builder
			writeKernelPlan(&b, s, p)
			if !p.NothingToDo && !p.Unchanged {
				// Not wrapped: it is a command to copy, and a path must
				// not be split.
				fmt.Fprintf(&b, "\nNext: %srocm-patch kernel apply%s, rebuild the initramfs, reboot,\nthen rocm-patch kernel verify%s\n",
					sudo(s.root), f.args(), rootArg(f))
			}
			_, err = io.WriteString(a.stdout, b.String())
			return err
		},
	}
	f.register(cmd, true)
	return cmd
}

func sudo(root *fsroot.Root) string {
	if root.IsHost() && os.Geteuid() != 0 {
		return "sudo "
	}
	return ""
}

func rootArg(f *kernelFlags) string {
	if f.root == "" {
		return ""
	}
	return " --root " + shellArg(f.root)
}

func (a *app) newKernelApplyCommand() *cobra.Command {
	f := &kernelFlags{}
	var yes, updateInitramfs bool
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Write /etc/modprobe.d/rocm-patch-amdgpu.conf (root only)",
		Long: `apply prints the plan, asks for confirmation on a terminal (--yes answers it
for scripts; without a terminal and without --yes it refuses), then writes
/etc/modprobe.d/rocm-patch-amdgpu.conf atomically: a temporary file in the same
folder, fsync, rename, fsync of the folder. A file it replaces is kept in
/var/lib/rocm-patch/backups, and /var/lib/rocm-patch/kernel-state.json records
what was written, for rollback and verify.

On the live machine apply needs root. With --root DIR (a test tree, an image
being built) any user who can write the tree may apply; links in the tree
are followed inside the tree only.

The parameters take effect when amdgpu is next loaded: apply prints the
initramfs command of this distribution (run it with --update-initramfs,
never under --root) and the kernel command line equivalent for GRUB users.

` + kernelExitCodes,
		Example: `  sudo rocm-patch kernel apply --profile thermal-2025
  sudo rocm-patch kernel apply --yes --update-initramfs
  rocm-patch kernel apply --yes --root /srv/image`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.openKernel(cmd, f, true)
			if err != nil {
				return err
			}
			defer s.cleanup()
			p, err := s.plan(f)
			if err != nil {
				return err
			}
			if err := a.checkWrite(s, "rocm-patch kernel apply"+f.args()); err != nil {
				return err
			}
			var b strings.Builder
			writeKernelPlan(&b, s, p)
			if _, err := io.WriteString(a.stdout, b.String()); err != nil {
				return err
			}
			if p.NothingToDo || p.Unchanged {
				return nil
			}
			if err := a.confirm(fmt.Sprintf("Write %s?", kparams.ConfPath), yes); err != nil {
				return err
			}
			applied, err := kparams.Apply(s.root, p, time.Now())
			if errors.Is(err, kparams.ErrNothingToDo) {
				fmt.Fprintln(a.stdout, "Nothing to do.")
				return nil
			}
			if err != nil {
				return fmt.Errorf("kernel apply: %w", err)
			}
			fmt.Fprintf(a.stdout, "\nWrote %s (%d bytes, sha256 %s).\n", kparams.ConfPath, len(p.Content), applied.SHA256)
			if applied.Previous.Absent {
				fmt.Fprintln(a.stdout, "There was no such file before: rocm-patch kernel rollback removes it.")
			} else {
				fmt.Fprintf(a.stdout, "The file it replaced is kept in %s: rocm-patch kernel rollback restores it.\n", applied.Previous.Backup)
			}
			fmt.Fprintf(a.stdout, "Recorded in %s.\n", kparams.StatePath)
			return a.afterWrite(cmd, s, p.Initramfs, p.CmdLine, p.GrubUpdate, updateInitramfs)
		},
	}
	f.register(cmd, true)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation (for scripts)")
	cmd.Flags().BoolVar(&updateInitramfs, "update-initramfs", false, "run the initramfs command after writing (live machine only)")
	return cmd
}

func (a *app) newKernelRollbackCommand() *cobra.Command {
	f := &kernelFlags{}
	var yes, updateInitramfs bool
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Restore the file the last apply replaced, byte for byte",
		Long: `rollback undoes the last apply recorded in /var/lib/rocm-patch/kernel-state.json:
it restores the file that apply replaced, byte for byte and with its
permissions, after checking the backup against the recorded SHA-256; or it
removes /etc/modprobe.d/rocm-patch-amdgpu.conf when there was none. A file
edited by hand since the apply is first kept in /var/lib/rocm-patch/backups.
Run it again to undo the apply before, and so on. It asks for confirmation
like apply.

` + kernelExitCodes,
		Example: `  sudo rocm-patch kernel rollback
  sudo rocm-patch kernel rollback --yes --update-initramfs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.openKernel(cmd, f, true)
			if err != nil {
				return err
			}
			defer s.cleanup()
			last := s.machine.State.Last()
			if last == nil {
				fmt.Fprintf(a.stdout, "Nothing to roll back: no apply is recorded in %s.\n", kparams.StatePath)
				return nil
			}
			if err := a.checkWrite(s, "rocm-patch kernel rollback"+rootArg(f)); err != nil {
				return err
			}
			profile := last.Profile
			if profile == "" {
				profile = "none"
			}
			var params []string
			for _, p := range last.Params {
				params = append(params, p.String())
			}
			fmt.Fprintf(a.stdout, "The last apply (%s, profile %s) wrote %s.\n", last.Time.Format(time.RFC3339), profile, strings.Join(params, " "))
			question := fmt.Sprintf("Restore %s as it was before it?", kparams.ConfPath)
			if last.Previous.Absent {
				fmt.Fprintf(a.stdout, "There was no file before it: rollback removes %s.\n", kparams.ConfPath)
				question = fmt.Sprintf("Remove %s?", kparams.ConfPath)
			} else {
				fmt.Fprintf(a.stdout, "Rollback restores the file kept in %s (sha256 %s).\n", last.Previous.Backup, last.Previous.SHA256)
			}
			if err := a.confirm(question, yes); err != nil {
				return err
			}
			res, err := kparams.Rollback(s.root, time.Now())
			if err != nil {
				return fmt.Errorf("kernel rollback: %w", err)
			}
			if res.SavedEdited != "" {
				fmt.Fprintf(a.stdout, "The file had been edited since the apply; that version is kept in %s.\n", res.SavedEdited)
			}
			if res.Removed {
				fmt.Fprintf(a.stdout, "Removed %s.\n", kparams.ConfPath)
			} else {
				fmt.Fprintf(a.stdout, "Restored %s.\n", kparams.ConfPath)
			}
			switch {
			case res.Remaining == 1:
				fmt.Fprintln(a.stdout, "1 earlier apply is still recorded; roll back again to undo it.")
			case res.Remaining > 1:
				fmt.Fprintf(a.stdout, "%d earlier applies are still recorded; roll back again to undo the last of them.\n", res.Remaining)
			}
			initramfs := kparams.ChooseInitramfs(s.machine.OS, s.machine.Tools)
			return a.afterWrite(cmd, s, initramfs, "", "", updateInitramfs)
		},
	}
	f.register(cmd, false)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation (for scripts)")
	cmd.Flags().BoolVar(&updateInitramfs, "update-initramfs", false, "run the initramfs command after restoring (live machine only)")
	return cmd
}

func (a *app) newKernelVerifyCommand() *cobra.Command {
	f := &kernelFlags{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "After a reboot, name the parameters that did not take",
		Long: `verify compares /sys/module/amdgpu/parameters with the values the last apply
wrote (from /var/lib/rocm-patch/kernel-state.json), or with a profile's when
--profile or --set is given, and names every parameter that did not take.

` + kernelExitCodes,
		Example: `  rocm-patch kernel verify
  rocm-patch kernel verify --profile thermal-2025`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.openKernel(cmd, f, false)
			if err != nil {
				return err
			}
			defer s.cleanup()
			var wanted []kparams.Param
			var from string
			last := s.machine.State.Last()
			switch {
			case cmd.Flags().Changed("profile") || len(f.set) > 0:
				p, err := s.plan(f)
				if err != nil {
					return err
				}
				wanted, from = p.Params, "profile "+f.profile
				if f.profile == profileNone {
					from = "--set"
				}
			case last != nil:
				wanted = last.Params
				from = fmt.Sprintf("the last apply (%s, %s)", last.Time.Format(time.RFC3339), kparams.StatePath)
			default:
				return usageError("nothing to verify: no apply is recorded in %s; name a profile with --profile", kparams.StatePath)
			}
			return a.writeVerify(s, wanted, from, last)
		},
	}
	f.register(cmd, true)
	return cmd
}

func (a *app) writeVerify(s *kernelSession, wanted []kparams.Param, from string, last *kparams.Applied) error {
	var b strings.Builder
	defer func() { io.WriteString(a.stdout, b.String()) }()
	if len(wanted) == 0 {
		fmt.Fprintf(&b, "Nothing to verify: %s sets no parameter on this machine.\n", from)
		return nil
	}
	v := kparams.Verify(wanted, s.machine.Loaded, s.machine.Live, s.machine.Others)
	fmt.Fprintf(&b, "Wanted: %s.\n", from)
	if !v.Loaded {
		fmt.Fprintln(&b, "amdgpu not loaded: /sys/module/amdgpu does not exist, so no parameter can be")
		fmt.Fprintln(&b, "checked. Is the driver blacklisted, did it fail to load (dmesg | grep amdgpu),")
		fmt.Fprintln(&b, "or is this not the machine that was configured?")
		return withCode(ExitFindings, nil)
	}
	fmt.Fprintln(&b)
	var failed []string
	for _, c := range v.Checks {
		live := c.Live
		if !c.LiveKnown {
			live = "(not readable)"
		}
		verdict := "ok"
		if !c.Took {
			verdict = "DID NOT TAKE"
			failed = append(failed, c.Param.Name)
		}
		fmt.Fprintf(&b, "  amdgpu.%s: wanted %s, live %s: %s\n", c.Param.Name, c.Param.Value, live, verdict)
		if c.Took {
			continue
		}
		if !c.LiveKnown {
			fmt.Fprintf(&b, "    /sys/module/amdgpu/parameters/%s is missing or unreadable: this kernel's amdgpu may not have the parameter.\n", c.Param.Name)
		}
		for _, o := range c.Others {
			fmt.Fprintf(&b, "    also set to %s in %s; the source modprobe reads last wins (files in name order, the kernel command line after them).\n", o.Param.Value, sourceText(o))
		}
	}
	if last != nil {
		cur := s.machine.Current
		switch {
		case !cur.Exists:
			fmt.Fprintf(&b, "\n%s no longer exists.\n", kparams.ConfPath)
		case kparams.Digest(cur.Data) != last.SHA256:
			fmt.Fprintf(&b, "\n%s has changed since the last apply.\n", kparams.ConfPath)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(&b, "\n%d of %d did not take: %s. A new value takes effect when amdgpu is next loaded:\n", len(failed), len(v.Checks), strings.Join(failed, ", "))
		fmt.Fprintln(&b, "rebuild the initramfs (amdgpu usually loads from it), then reboot.")
		return withCode(ExitFindings, nil)
	}
	fmt.Fprintf(&b, "\nAll %d took.\n", len(v.Checks))
	return nil
}

func sourceText(o kparams.Source) string {
	if o.Line > 0 {
		return fmt.Sprintf("%s line %d", o.Where, o.Line)
	}
	return o.Where
}

// checkWrite refuses early, with the command to run, when this user
// cannot write.
func (a *app) checkWrite(s *kernelSession, command string) error {
	err := kparams.CheckPermission(s.root)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kparams.ErrNotRoot):
		return withCode(ExitUsage, fmt.Errorf("%w; run: sudo %s", err, command))
	case errors.Is(err, kparams.ErrNotWritable):
		return withCode(ExitUsage, fmt.Errorf("%w; give a --root you can write, or run it as root", err))
	}
	return err
}

// confirm asks question on the terminal; --yes answers it. Without a
// terminal and without --yes it refuses: a script must say so.
func (a *app) confirm(question string, yes bool) error {
	if yes {
		return nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return withCode(ExitUsage, errors.New("refusing to write without confirmation: stdin is not a terminal; pass --yes to confirm from a script"))
	}
	fmt.Fprintf(a.stderr, "%s [y/N] ", question)
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return withCode(ExitError, fmt.Errorf("no answer (%v); nothing was written", err))
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return withCode(ExitError, errors.New("not confirmed; nothing was written"))
}

// isTerminal reports whether f is a terminal, the way isatty(3) does.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// afterWrite says how the change reaches the driver, and runs the
// initramfs command when asked on the live machine.
func (a *app) afterWrite(cmd *cobra.Command, s *kernelSession, ir kparams.Initramfs, cmdline, grub string, run bool) error {
	w := a.stdout
	io.WriteString(w, "\n")
	writeInitramfs(w, ir)
	if cmdline != "" {
		writeGrub(w, cmdline, grub)
	}
	if run {
		switch {
		case !s.root.IsHost():
			fmt.Fprintln(w, "--update-initramfs: not run, because --root is not this machine.")
		case ir.Tool == "":
			return withCode(ExitError, errors.New("--update-initramfs: no initramfs tool known for this machine; nothing was run"))
		default:
			fmt.Fprintf(w, "Running %s\n", ir.Command())
			c := exec.CommandContext(cmd.Context(), ir.Tool, ir.Args...)
			c.Stdout, c.Stderr = a.stdout, a.stderr
			if err := c.Run(); err != nil {
				return fmt.Errorf("%s: %w", ir.Command(), err)
			}
		}
	}
	fmt.Fprintln(w, "Then reboot, and check with: rocm-patch kernel verify")
	return nil
}

func writeInitramfs(w io.Writer, ir kparams.Initramfs) {
	var b strings.Builder
	if ir.Tool != "" {
		wrapText(&b, "", "", fmt.Sprintf("Initramfs: %s (%s).", ir.Command(), ir.Why))
	} else {
		wrapText(&b, "", "", fmt.Sprintf("Initramfs: %s; rebuild it with your distribution's tool (update-initramfs -u, dracut -f or mkinitcpio -P).", ir.Why))
	}
	io.WriteString(w, b.String())
}

func writeGrub(w io.Writer, cmdline, grub string) {
	if grub == "" {
		grub = "update-grub (Debian, Ubuntu), grub2-mkconfig -o /boot/grub2/grub.cfg (Fedora, RHEL, openSUSE) or grub-mkconfig -o /boot/grub/grub.cfg (Arch)"
	}
	var b strings.Builder
	wrapText(&b, "", "", "Kernel command line equivalent, for GRUB users: add it to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then run "+grub+":")
	fmt.Fprintf(&b, "  %s\n", cmdline)
	io.WriteString(w, b.String())
}

// shellArg quotes a word for a command line a user will copy, only when
// it needs it.
func shellArg(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./=:@%+,-", r)) {
			return envlayer.QuotePOSIX(s)
		}
	}
	if s == "" {
		return "''"
	}
	return s
}

// writeKernelPlan prints a plan for a person: the profile, the GPUs, each
// parameter with what it really does and does here, the file and its diff,
// and how it reaches the driver.
func writeKernelPlan(b *strings.Builder, s *kernelSession, p *kparams.Plan) {
	if p.Profile != "" {
		fmt.Fprintf(b, "Profile %s\n", p.Profile)
		if prof, ok := s.kb.Profile(p.Profile); ok {
			wrapText(b, "  ", "", prof.Description)
		}
		b.WriteString("\n")
	}
	b.WriteString("Machine\n")
	if len(p.GPUs) == 0 {
		b.WriteString("  No AMD GPU detected.\n")
	}
	for _, g := range p.GPUs {
		bar := "CPU-visible VRAM unknown"
		if l := g.LargeBAR(); l != nil {
			bar = fmt.Sprintf("%s of %s VRAM CPU-visible", bytesHuman(g.VisibleVRAMBytes), bytesHuman(g.VRAMBytes))
			if *l {
				bar += ": large BAR"
			} else {
				bar += ": not large BAR"
			}
		}
		fmt.Fprintf(b, "  %s; %s\n", g.Label(), bar)
	}
	if p.Loaded {
		b.WriteString("  amdgpu loaded; live values from /sys/module/amdgpu/parameters\n")
	} else {
		b.WriteString("  amdgpu not loaded: no live values\n")
	}

	b.WriteString("\nParameters\n")
	for _, it := range p.Items {
		writeKernelItem(b, it, p.Loaded)
	}

	switch {
	case p.NothingToDo:
		what := "no parameter"
		if p.Profile != "" {
			what = "no parameter of profile " + p.Profile
		}
		b.WriteString("\n")
		wrapText(b, "", "", fmt.Sprintf("Nothing to do: %s changes anything on this machine, so nothing is written.", what))
		if p.Current.Exists {
			wrapText(b, "", "", fmt.Sprintf("%s, written earlier, stays as it is; rocm-patch kernel rollback restores what it replaced.", kparams.ConfPath))
		}
		return
	case p.Unchanged:
		fmt.Fprintf(b, "\nNothing to do: %s already holds exactly this.\n", kparams.ConfPath)
		return
	}
	fmt.Fprintf(b, "\nFile %s\n", kparams.ConfPath)
	for _, line := range strings.Split(strings.TrimSuffix(string(p.Content), "\n"), "\n") {
		if line == "" {
			b.WriteString("\n")
		} else {
			b.WriteString("  " + line + "\n")
		}
	}
	b.WriteString("\nDiff\n")
	b.WriteString(p.Diff)
	if len(p.Conflicts) > 0 {
		b.WriteString("\nAlso set elsewhere (the source modprobe reads last wins: files in name order, the kernel command line after them)\n")
		for _, c := range p.Conflicts {
			same := "a different value"
			if c.Same {
				same = "the same value"
			}
			fmt.Fprintf(b, "  %s in %s (%s)\n", c.Source.Param.String(), sourceText(c.Source), same)
		}
	}
	b.WriteString("\n")
	writeGrub(b, p.CmdLine, p.GrubUpdate)
	writeInitramfs(b, p.Initramfs)
}

func writeKernelItem(b *strings.Builder, it kparams.Item, loaded bool) {
	verdict := map[kparams.Effect]string{
		kparams.EffectChanges:       "changes something here",
		kparams.EffectNoOp:          "changes nothing here",
		kparams.EffectUnknown:       "may change something here",
		kparams.EffectOtherHardware: "not for this machine's GPUs",
	}[it.Effect]
	written := "not written"
	if it.Write {
		written = "written"
	}
	fmt.Fprintf(b, "\n  amdgpu.%s: %s, %s\n", it.Param.String(), verdict, written)
	const indent = "    "
	if it.WrittenAs != "" {
		wrapText(b, indent, "name:  ", fmt.Sprintf("the earlier write-up wrote %s, which does not exist; the parameter is %s.", it.WrittenAs, it.Param.SettingID()))
	}
	live := "amdgpu not loaded"
	switch {
	case it.LiveKnown:
		live = it.Live
	case loaded:
		live = "not in /sys/module/amdgpu/parameters"
	}
	fmt.Fprintf(b, "%slive:  %s\n", indent, live)
	if it.Setting != nil {
		wrapText(b, indent, "does:  ", it.Setting.Meaning)
	}
	wrapText(b, indent, "here:  ", it.Reason)
	if it.Setting != nil {
		for _, wc := range it.Setting.WrongClaims {
			wrapText(b, indent, "claim: ", wc.Claim)
			wrapText(b, indent, "truth: ", wc.Truth)
		}
		wrapText(b, indent, "cost:  ", it.Setting.Cost)
	}
	if it.Why != "" {
		wrapText(b, indent, "why:   ", it.Why)
	}
}

// wrapText writes text wrapped at 78 columns, the first line led by
// label and the others indented to match. Text from data files is made
// safe first, so it cannot break the layout.
func wrapText(b *strings.Builder, indent, label, text string) {
	const width = 78
	pad := indent + strings.Repeat(" ", utf8.RuneCountInString(label))
	line := indent + label
	n := utf8.RuneCountInString(line)
	first := true
	for _, w := range strings.Fields(envlayer.CommentSafe(text)) {
		wl := utf8.RuneCountInString(w)
		if !first && n+1+wl > width {
			b.WriteString(line + "\n")
			line, n, first = pad, utf8.RuneCountInString(pad), true
		}
		if !first {
			line += " "
			n++
		}
		line += w
		n += wl
		first = false
	}
	b.WriteString(strings.TrimRight(line, " ") + "\n")
}
