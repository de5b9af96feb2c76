// Package hw holds the hardware facts of AMD GPUs that the rest of
// rocm-patch reasons with: ISA versions and their names, ISA families and
// LLVM's generic ISAs, a small PCI device table, and a parser for libdrm's
// amdgpu.ids. Everything here is a pure function of its arguments; the only
// input it reads is an io.Reader handed to ParseIDTable.
package hw

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// GFXVersion is an HSA ISA version major.minor.stepping (10.3.1 is gfx1031,
// 9.0.10 is gfx90a).
type GFXVersion struct{ Major, Minor, Stepping int }

// ErrNoTarget reports a gfx_target_version of 0 or none at all: a CPU node,
// or a kernel too old to publish the key.
var ErrNoTarget = errors.New("no gfx target version (CPU node or old kernel)")

// ErrMalformedOverride is wrapped by every error ParseOverride returns.
var ErrMalformedOverride = errors.New("malformed HSA_OVERRIDE_GFX_VERSION")

// ErrBadTarget is wrapped by the errors of ParseTarget and Target.
var ErrBadTarget = errors.New("not a gfx target name")

// FromTargetVersion decodes KFD's gfx_target_version, a decimal MMmmss
// (100301 -> 10.3.1, 90010 -> 9.0.10, 90402 -> 9.4.2). Zero yields
// ErrNoTarget. A value below 10000 has major 0, which no GPU has, and is
// rejected too. Minor and stepping are not checked against 0xf here: a
// decoded version that cannot be named makes Target fail instead.
func FromTargetVersion(v uint64) (GFXVersion, error) {
	if v == 0 {
		return GFXVersion{}, ErrNoTarget
	}
	g := GFXVersion{
		Major:    int(v / 10000),
		Minor:    int(v / 100 % 100),
		Stepping: int(v % 100),
	}
	if g.Major == 0 {
		return GFXVersion{}, fmt.Errorf("gfx_target_version %d decodes to major 0: %w", v, ErrNoTarget)
	}
	return g, nil
}

// String renders the dotted form, "10.3.1", the one HSA_OVERRIDE_GFX_VERSION
// takes.
func (v GFXVersion) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Stepping)
}

// Target renders the LLVM processor name: "gfx" + major in decimal + minor
// and stepping as one hex digit each. It fails when major is not positive
// or when minor or stepping do not fit one hex digit, since such a name
// would be ambiguous (gfx1 + 0x10 + 0 reads back as gfx1100).
func (v GFXVersion) Target() (string, error) {
	if v.Major <= 0 {
		return "", fmt.Errorf("version %s: major must be positive: %w", v, ErrBadTarget)
	}
	if v.Minor < 0 || v.Minor > 0xf {
		return "", fmt.Errorf("version %s: minor %d does not fit one hex digit: %w", v, v.Minor, ErrBadTarget)
	}
	if v.Stepping < 0 || v.Stepping > 0xf {
		return "", fmt.Errorf("version %s: stepping %d does not fit one hex digit: %w", v, v.Stepping, ErrBadTarget)
	}
	return "gfx" + strconv.Itoa(v.Major) + strconv.FormatInt(int64(v.Minor), 16) + strconv.FormatInt(int64(v.Stepping), 16), nil
}

// hsaISAPrefix is how ROCr names an ISA ("amdgcn-amd-amdhsa--gfx1030" in
// rocminfo); ParseTarget accepts it so callers can pass rocminfo output.
const hsaISAPrefix = "amdgcn-amd-amdhsa--"

// maxMajorDigits bounds the major so a hostile name cannot overflow int.
const maxMajorDigits = 4

// ParseTarget parses a processor name such as "gfx1031", "gfx90a",
// "gfx90a:xnack-" or "gfx942:sramecc+:xnack-" into its version. Target
// features after the first ':' are ignored. The "amdgcn-amd-amdhsa--" prefix
// that rocminfo prints is accepted. Generic names (gfx10-3-generic) are not
// processors and return an error.
func ParseTarget(name string) (GFXVersion, error) {
	base := canonicalTarget(name)
	if strings.Contains(base, "generic") {
		return GFXVersion{}, fmt.Errorf("%q is a generic ISA name, not a processor: %w", name, ErrBadTarget)
	}
	body, ok := strings.CutPrefix(base, "gfx")
	if !ok {
		return GFXVersion{}, fmt.Errorf("%q does not start with gfx: %w", name, ErrBadTarget)
	}
	if len(body) < 3 || len(body) > maxMajorDigits+2 {
		return GFXVersion{}, fmt.Errorf("%q: want gfx, the major in decimal, then minor and stepping as one hex digit each: %w", name, ErrBadTarget)
	}
	majorText, minorText, stepText := body[:len(body)-2], body[len(body)-2:len(body)-1], body[len(body)-1:]
	if majorText[0] == '0' || !allDecimal(majorText) {
		return GFXVersion{}, fmt.Errorf("%q: major %q is not a decimal number without leading zeros: %w", name, majorText, ErrBadTarget)
	}
	major, _ := strconv.Atoi(majorText) // cannot fail: at most 4 decimal digits
	minor, okMinor := lowerHexDigit(minorText[0])
	step, okStep := lowerHexDigit(stepText[0])
	if !okMinor || !okStep {
		return GFXVersion{}, fmt.Errorf("%q: minor and stepping must be lowercase hex digits: %w", name, ErrBadTarget)
	}
	return GFXVersion{Major: major, Minor: minor, Stepping: step}, nil
}

// canonicalTarget strips the HSA prefix and the target features, leaving the
// bare processor name that the tables below are keyed by.
func canonicalTarget(name string) string {
	name = strings.TrimPrefix(name, hsaISAPrefix)
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	return name
}

func allDecimal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// lowerHexDigit accepts only lowercase, the way LLVM spells processors, so
// that every version has exactly one name.
func lowerHexDigit(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	}
	return 0, false
}
