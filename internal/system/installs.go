package system

import (
	"errors"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
)

// rocmGlobs are where ROCm trees are installed: the packaged /opt/rocm and
// /opt/rocm-X.Y.Z, and hand-built SDK roots such as /opt/rocm_sdk_612.
var rocmGlobs = []string{"/opt/rocm", "/opt/rocm-*", "/opt/rocm_*"}

// siteGlobs are the usual homes of pip, distro and conda packages.
var siteGlobs = []string{
	"/usr/lib/python3/dist-packages",
	"/usr/lib/python3*/site-packages",
	"/usr/lib/python3*/dist-packages",
	"/usr/lib64/python3*/site-packages",
	"/usr/local/lib/python3*/site-packages",
	"/usr/local/lib/python3*/dist-packages",
	"/opt/conda/lib/python3*/site-packages",
	"/opt/conda/envs/*/lib/python3*/site-packages",
	"/root/.local/lib/python3*/site-packages",
	"/home/*/.local/lib/python3*/site-packages",
	// Virtual environments where consumer-card users keep them: right in a
	// home (~/venv, ~/.venv), inside a project (~/ComfyUI/venv,
	// ~/stable-diffusion-webui/venv), in a folder of venvs (~/.venvs/torch),
	// and conda's.
	"/home/*/*/lib/python3*/site-packages",
	"/home/*/*/venv/lib/python3*/site-packages",
	"/home/*/*/.venv/lib/python3*/site-packages",
	"/home/*/.venvs/*/lib/python3*/site-packages",
	"/home/*/.virtualenvs/*/lib/python3*/site-packages",
	"/home/*/*conda3/lib/python3*/site-packages",
	"/home/*/*conda3/envs/*/lib/python3*/site-packages",
	"/root/*/lib/python3*/site-packages",
}

// gfxName picks gfx target names out of library file names such as
// TensileLibrary_lazy_gfx1030.dat or Kernels.so-000-gfx90a-xnack+.hsaco.
var gfxName = regexp.MustCompile(`gfx[0-9]{2,4}[0-9a-f]?`)

func (d *detector) readInstalls() {
	d.sys.ROCm = d.readROCm()
	d.sys.Torch = d.readTorch()
}

func (d *detector) readROCm() []Install {
	var candidates []string
	for _, v := range rocmPathVars {
		if p := d.env[v]; p != "" {
			candidates = append(candidates, path.Clean("/"+p))
		}
	}
	for _, g := range rocmGlobs {
		candidates = append(candidates, d.root.Glob(g)...)
	}
	seen := map[string]bool{}
	var out []Install
	for _, c := range candidates {
		resolved, err := d.root.Resolve(c)
		if err != nil {
			for _, v := range rocmPathVars {
				if d.env[v] != "" && c == path.Clean("/"+d.env[v]) {
					d.note("warning", v, "%s=%s: %v", v, d.env[v], causeText(err))
				}
			}
			continue
		}
		if seen[resolved] {
			continue
		}
		fi, err := d.root.Stat(resolved)
		if err != nil || !fi.IsDir() {
			continue
		}
		inst, ok := d.readROCmTree(c, resolved)
		if !ok {
			continue
		}
		seen[resolved] = true
		out = append(out, inst)
	}
	// Keep ROCM_PATH and /opt/rocm (what tools use by default) first, then
	// the newest versions.
	sort.SliceStable(out, func(i, j int) bool {
		pi, pj := d.rocmPriority(out[i].Path), d.rocmPriority(out[j].Path)
		if pi != pj {
			return pi < pj
		}
		return versionLess(out[j].Version, out[i].Version)
	})
	return out
}

// rocmPathVars name a ROCm tree explicitly: ROCM_PATH for ROCm's own
// tools, ROCM_HOME for PyTorch's extension builder.
var rocmPathVars = []string{"ROCM_PATH", "ROCM_HOME"}

func (d *detector) rocmPriority(p string) int {
	for i, v := range rocmPathVars {
		if d.env[v] != "" && p == path.Clean("/"+d.env[v]) {
			return i
		}
	}
	if p == "/opt/rocm" {
		return len(rocmPathVars)
	}
	return len(rocmPathVars) + 1
}

// readROCmTree reads one candidate; ok is false when it is not a ROCm tree
// (neither a version file nor a lib folder).
func (d *detector) readROCmTree(name, resolved string) (Install, bool) {
	inst := Install{Path: name, ROCBLASTargets: []string{}}
	if resolved != name {
		inst.ResolvedPath = resolved
	}
	versionFile := resolved + "/.info/version"
	v, err := d.root.ReadString(versionFile)
	switch {
	case err == nil:
		inst.Version = firstLine(v)
	case errors.Is(err, fs.ErrNotExist) && !d.root.Lexists(versionFile):
		if !d.root.Exists(resolved + "/lib") {
			return inst, false
		}
		inst.Version = versionFromDirName(path.Base(resolved))
	default:
		d.noteReadError(versionFile, err)
	}
	inst.ROCBLASTargets = d.libraryTargets(resolved + "/lib/rocblas/library")
	return inst, true
}

// libraryTargets lists the gfx targets named by the files of a rocBLAS
// library folder. Only names are read: the files may be empty stand-ins.
func (d *detector) libraryTargets(dir string) []string {
	entries, err := d.root.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.noteReadError(dir, err)
		}
		return []string{}
	}
	set := map[string]bool{}
	for _, e := range entries {
		for _, m := range gfxName.FindAllString(e.Name(), -1) {
			if _, err := hw.ParseTarget(m); err == nil {
				set[m] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return targetLess(out[i], out[j]) })
	return out
}

// targetLess orders targets by ISA version, so gfx90a comes before gfx1030.
func targetLess(a, b string) bool {
	va, ea := hw.ParseTarget(a)
	vb, eb := hw.ParseTarget(b)
	if ea != nil || eb != nil {
		return a < b
	}
	if va.Major != vb.Major {
		return va.Major < vb.Major
	}
	if va.Minor != vb.Minor {
		return va.Minor < vb.Minor
	}
	return va.Stepping < vb.Stepping
}

var torchVersionLine = regexp.MustCompile(`^(__version__|hip)\s*(?::[^=]*)?=\s*['"]([^'"]*)['"]`)

// readTorch finds PyTorch installs by path and reads their version.py; it
// never imports torch, which would take seconds and initialise the GPU.
func (d *detector) readTorch() []Install {
	globs := append([]string{}, siteGlobs...)
	for _, v := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if p := d.env[v]; p != "" {
			globs = append(globs, path.Clean("/"+p)+"/lib/python3*/site-packages")
		}
	}
	if home := d.env["HOME"]; home != "" && d.root.IsHost() {
		globs = append(globs, path.Clean("/"+home)+"/.local/lib/python3*/site-packages")
	}
	seen := map[string]bool{}
	var out []Install
	for _, g := range globs {
		for _, site := range d.root.Glob(g + "/torch/version.py") {
			dir := path.Dir(site)
			resolved, err := d.root.Resolve(dir)
			if err != nil || seen[resolved] {
				continue
			}
			seen[resolved] = true
			inst := Install{Path: dir, ROCBLASTargets: []string{}}
			if resolved != dir {
				inst.ResolvedPath = resolved
			}
			data, err := d.root.ReadFile(site)
			if err != nil {
				d.noteReadError(site, err)
			} else {
				for _, line := range strings.Split(string(data), "\n") {
					if m := torchVersionLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
						if m[1] == "__version__" {
							inst.Version = m[2]
						} else {
							inst.HIPVersion = m[2]
						}
					}
				}
			}
			inst.ROCBLASTargets = d.libraryTargets(resolved + "/lib/rocblas/library")
			out = append(out, inst)
		}
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// versionFromDirName reads "6.2.0" from rocm-6.2.0 and "6.1.2" from
// rocm_sdk_612, the two naming habits seen in the wild.
func versionFromDirName(name string) string {
	if v, ok := strings.CutPrefix(name, "rocm-"); ok && v != "" {
		return v
	}
	digits := strings.TrimLeft(name[strings.LastIndexAny(name, "_-")+1:], "v")
	if len(digits) == 3 && strings.Trim(digits, "0123456789") == "" {
		return digits[:1] + "." + digits[1:2] + "." + digits[2:]
	}
	return ""
}

// versionLess compares dotted versions numerically ("6.10" > "6.9").
func versionLess(a, b string) bool {
	pa, pb := strings.FieldsFunc(a, notDigit), strings.FieldsFunc(b, notDigit)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, _ := strconv.Atoi(pa[i])
		nb, _ := strconv.Atoi(pb[i])
		if na != nb {
			return na < nb
		}
	}
	return len(pa) < len(pb)
}

func notDigit(r rune) bool { return r < '0' || r > '9' }
