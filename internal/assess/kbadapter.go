package assess

// ADAPTER: what the knowledge base does not (yet) say, kept in one place
// so that it can be deleted once internal/kb provides it. Everything here
// is a stop-gap, not a second source of facts.

import (
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// isModuleDefault reports whether a module parameter as sysfs shows it is
// the value nobody set. The catalogue's Default.Value is the module's
// declared default; older kernels declared others for some parameters
// (amdgpu.mtype_local was 0 before it became -1), which the catalogue
// cannot express yet.
func isModuleDefault(s *kb.Setting, value string) bool {
	if value == strings.TrimSpace(s.Default.Value) {
		return true
	}
	for _, v := range olderDefaults[s.ID] {
		if v == value {
			return true
		}
	}
	return false
}

// olderDefaults: ADAPTER until the catalogue lists every default a kernel
// has shipped. amdgpu_drv.c declared "int amdgpu_mtype_local;" (0) before
// the "= -1" of later kernels.
var olderDefaults = map[string][]string{
	"amdgpu.mtype_local": {"0"},
}
