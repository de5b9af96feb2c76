package system

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/hw"
)

// OverrideVar is the variable libhsakmt reads to report another ISA; the
// per-node form appends "_<KFD node id>" and wins over the global one.
const OverrideVar = "HSA_OVERRIDE_GFX_VERSION"

// applyOverrides computes each GPU's effective target as libhsakmt would.
func (d *detector) applyOverrides() {
	reported := map[string]bool{}
	for i := range d.sys.GPUs {
		g := &d.sys.GPUs[i]
		if g.Node == nil {
			continue // libhsakmt never sees a GPU without a KFD node
		}
		name := fmt.Sprintf("%s_%d", OverrideVar, *g.Node)
		value, ok := d.env[name]
		if !ok {
			name = OverrideVar
			value, ok = d.env[name]
		}
		if !ok {
			continue
		}
		v, err := hw.ParseOverride(value)
		if err != nil {
			if !reported[name] {
				reported[name] = true
				d.note("warning", name, "%s=%q is malformed (%v): older ROCm (libhsakmt) then fails to start and sees no GPU; newer ROCr ignores it", name, value, err)
			}
			continue
		}
		target, err := v.Target()
		if err != nil {
			if !reported[name] {
				reported[name] = true
				d.note("warning", name, "%s=%s names no real ISA (%v): ROCm will find no code objects for it", name, value, err)
			}
			continue
		}
		g.EffectiveGFXTarget = target
		g.Override = name
		if target != g.GFXTarget {
			d.note("info", name, "%s=%s: ROCm loads %s code on GPU %d (%s)", name, value, target, g.Index, firstNonEmpty(g.GFXTarget, "unknown target"))
		}
	}
	for k := range d.env {
		if rest, ok := strings.CutPrefix(k, OverrideVar+"_"); ok {
			if _, err := strconv.Atoi(rest); err != nil {
				d.note("warning", k, "%s is not a per-node override (want %s_<KFD node number>); ROCm ignores it", k, OverrideVar)
			}
		}
	}
}

// applyVisibility marks the GPUs that the visibility variables hide.
// ROCR_VISIBLE_DEVICES filters (and may reorder) the GPUs first; the HIP
// list then indexes what ROCr left. HIP reads HIP_VISIBLE_DEVICES, else
// CUDA_VISIBLE_DEVICES; GPU_DEVICE_ORDINAL is the older spelling it honours
// last.
func (d *detector) applyVisibility() {
	var order []int // indices of GPUs with a KFD node, in ROCr order
	for i, g := range d.sys.GPUs {
		if g.Node != nil {
			order = append(order, i)
		} else {
			d.sys.GPUs[i].Visible = false
			d.sys.GPUs[i].HiddenBy = "no KFD node"
		}
	}
	visible := order
	hiddenBy := map[int]string{}
	if value, ok := d.env["ROCR_VISIBLE_DEVICES"]; ok {
		visible = d.rocrVisible(value, order)
		markHidden(order, visible, hiddenBy, "ROCR_VISIBLE_DEVICES")
	}
	for _, name := range []string{"HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL"} {
		value, ok := d.env[name]
		if !ok {
			continue
		}
		before := visible
		visible = d.indexList(name, value, visible)
		markHidden(before, visible, hiddenBy, name)
		for _, later := range []string{"CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL"} {
			if _, set := d.env[later]; set && later != name {
				d.note("info", later, "%s is set but HIP uses %s first", later, name)
			}
		}
		break
	}
	for i, by := range hiddenBy {
		d.sys.GPUs[i].Visible = false
		d.sys.GPUs[i].HiddenBy = by
	}
}

func markHidden(before, after []int, hiddenBy map[int]string, by string) {
	kept := map[int]bool{}
	for _, i := range after {
		kept[i] = true
	}
	for _, i := range before {
		if !kept[i] {
			hiddenBy[i] = by
		}
	}
}

// rocrVisible applies ROCR_VISIBLE_DEVICES: indices into all GPUs or
// GPU-<uuid> ids. Set but empty hides every GPU.
func (d *detector) rocrVisible(value string, all []int) []int {
	var out []int
	seen := map[int]bool{}
	for _, tok := range strings.Split(value, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		idx := -1
		if uuid, ok := strings.CutPrefix(strings.ToUpper(tok), "GPU-"); ok {
			// Compared as numbers: ROCr prints the id zero-padded, users
			// often copy it without the leading zeros.
			want, err := strconv.ParseUint(uuid, 16, 64)
			for pos, gi := range all {
				if id, known := d.uuids[gi]; err == nil && known && id == want {
					idx = pos
				}
			}
			if idx < 0 {
				d.note("warning", "ROCR_VISIBLE_DEVICES", "%s matches no GPU's unique id; ROCr skips it", tok)
				continue
			}
		} else {
			n, err := strconv.Atoi(tok)
			if err != nil || n < 0 || n >= len(all) {
				d.note("warning", "ROCR_VISIBLE_DEVICES", "%q is not a GPU index (0..%d) or GPU-<uuid>; ROCr skips it", tok, len(all)-1)
				continue
			}
			idx = n
		}
		if !seen[idx] {
			seen[idx] = true
			out = append(out, all[idx])
		}
	}
	return out
}

// indexList applies a HIP-style device list: indices into the GPUs that
// are still visible. Like CUDA, HIP stops at the first entry that is not a
// valid index, and a set but empty list hides every GPU.
func (d *detector) indexList(name, value string, visible []int) []int {
	var out []int
	seen := map[int]bool{}
	for _, tok := range strings.Split(value, ",") {
		tok = strings.TrimSpace(tok)
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n >= len(visible) {
			if tok != "" || len(strings.TrimSpace(value)) > 0 {
				d.note("warning", name, "%s=%q: %q is not an index of the %d GPUs visible at that point; HIP ignores it and everything after it", name, value, tok, len(visible))
			}
			break
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, visible[n])
		}
	}
	return out
}
