package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/system"
)

func (a *app) newDetectCommand() *cobra.Command {
	var rootFlag string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "detect",
		Short: "Show the AMD GPUs, gfx targets, ROCm and PyTorch installs of this machine",
		Long: `detect reads sysfs, procfs and plain files (never imports torch, never needs
ROCm or root) and reports every AMD GPU with its KFD node, PCI address, ids,
marketing name, gfx target, the target ROCm will really use under
HSA_OVERRIDE_GFX_VERSION, family, memory and visibility; the ROCm and PyTorch
installs with the gfx targets their rocBLAS ships kernels for; the kernel and
amdgpu settings; and whether this user can reach /dev/kfd.

With --root, every path is read under DIR instead of /, so a captured or
hand-built tree replays exactly like a live system. A snapshot .tar.gz made
by 'rocm-patch snapshot' works too. A tree may hold .rocm-patch/environ: its
variables are used instead of the process environment.

--json prints one object, schema "rocm-patch/system/v1" (see docs/json.md).
With no AMD GPU, detect says so and exits 0.`,
		Example: `  rocm-patch detect
  rocm-patch detect --json | jq '.gpus[] | {index, gfx_target, family}'
  rocm-patch detect --root examples/systems/rx6700xt
  HSA_OVERRIDE_GFX_VERSION=10.3.0 rocm-patch detect --root examples/systems/rx6700xt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, cleanup, err := openRoot(rootFlag)
			if err != nil {
				return err
			}
			defer cleanup()
			sys, err := system.Detect(cmd.Context(), root, a.detectOptions())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, sys)
			}
			return writeSystem(a.stdout, sys)
		},
	}
	cmd.Flags().StringVar(&rootFlag, "root", "", rootFlagHelp)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rocm-patch/system/v1 JSON document")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeSystem prints the compact human view: a GPU table, the installs,
// the kernel line and the notes.
func writeSystem(w io.Writer, sys *system.System) error {
	var b strings.Builder
	if len(sys.GPUs) == 0 {
		b.WriteString("No AMD GPU found.\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "GPU\tNODE\tPCI\tNAME\tTARGET\tROCm USES\tFAMILY\tVRAM\tVISIBLE")
		for _, g := range sys.GPUs {
			node := "-"
			if g.Node != nil {
				node = fmt.Sprint(*g.Node)
			}
			kind := ""
			if g.Integrated {
				kind = " (iGPU)"
			}
			visible := "yes"
			if !g.Visible {
				visible = "no: " + g.HiddenBy
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s%s\t%s\t%s\t%s\t%s\t%s\n", g.Index, node, dash(g.PCI), dash(g.Name), kind,
				dash(g.GFXTarget), dash(g.EffectiveGFXTarget), g.Family, bytesHuman(g.VRAMBytes), visible)
		}
		tw.Flush()
	}
	b.WriteString("\n")
	for _, in := range sys.ROCm {
		fmt.Fprintf(&b, "ROCm   %s %s  rocBLAS: %s\n", installPath(in), dash(in.Version), targetsHuman(in.ROCBLASTargets))
	}
	if len(sys.ROCm) == 0 {
		b.WriteString("ROCm   not found\n")
	}
	for _, in := range sys.Torch {
		build := "not a ROCm build"
		if in.HIPVersion != "" {
			build = "HIP " + in.HIPVersion
		}
		fmt.Fprintf(&b, "torch  %s %s (%s)  rocBLAS: %s\n", installPath(in), dash(in.Version), build, targetsHuman(in.ROCBLASTargets))
	}
	if len(sys.Torch) == 0 {
		b.WriteString("torch  not found\n")
	}
	amdgpu := "amdgpu not loaded"
	if sys.AMDGPU.Loaded {
		amdgpu = "amdgpu loaded"
		if len(sys.AMDGPU.Params) > 0 {
			var set []string
			for _, k := range []string{"noretry", "vm_fragment_size", "vm_update_mode", "gttsize", "cwsr_enable", "mtype_local"} {
				if v, ok := sys.AMDGPU.Params[k]; ok {
					set = append(set, k+"="+v)
				}
			}
			if len(set) > 0 {
				amdgpu += " (" + strings.Join(set, " ") + ")"
			}
		}
	}
	kfd := "/dev/kfd usable"
	if !sys.KFDAccessible {
		kfd = "/dev/kfd NOT usable"
	}
	kernel := dash(sys.Kernel.Release)
	if sys.WSL {
		kernel += " (WSL)"
	}
	if len(sys.GPUs) == 0 && !sys.KFDAccessible {
		kfd = "no /dev/kfd"
	}
	fmt.Fprintf(&b, "kernel %s; %s; %s\n", kernel, amdgpu, kfd)
	if len(sys.Env) > 0 {
		keys := sortedKeys(sys.Env)
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+"="+sys.Env[k])
		}
		fmt.Fprintf(&b, "env    %s\n", strings.Join(parts, " "))
	}
	if len(sys.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range sys.Notes {
			mark := "-"
			if n.Level == "warning" {
				mark = "!"
			}
			fmt.Fprintf(&b, "  %s %s\n", mark, n.Message)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func installPath(in system.Install) string {
	if in.ResolvedPath != "" {
		return in.Path + " -> " + in.ResolvedPath
	}
	return in.Path
}

func targetsHuman(t []string) string {
	if len(t) == 0 {
		return "none found"
	}
	return strings.Join(t, " ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// bytesHuman prints sizes as the GPU world quotes them: GiB, else MiB.
func bytesHuman(n uint64) string {
	switch {
	case n == 0:
		return "-"
	case n >= 1<<30:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/(1<<30))) + " GiB"
	default:
		return fmt.Sprintf("%d MiB", n>>20)
	}
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}
