package kparams

import (
	"strings"
)

// Source is one place outside rocm-patch's file that sets an amdgpu
// parameter: another modprobe.d file or the kernel command line.
type Source struct {
	// Where is the machine path of the file, or "/proc/cmdline".
	Where string
	// Line is the 1-based line of the options statement; 0 for the
	// command line.
	Line  int
	Param Param
}

// ModprobeDirs are the folders modprobe reads configuration from, in the
// order in which a file name in one hides the same name in the next
// (man modprobe.d).
var ModprobeDirs = []string{"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d", "/lib/modprobe.d"}

// ParseModprobe returns the amdgpu parameters that the "options" lines of a
// modprobe.d file set, in order. It follows modprobe's reading: '#' starts
// a comment line, a backslash at the end of a line continues it, words are
// separated by white space, and module names treat '-' and '_' alike.
// A word without '=' is a boolean parameter set to "1". It never fails:
// anything it does not understand is skipped.
func ParseModprobe(where string, data []byte) []Source {
	var out []Source
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimRight(lines[i], "\r")
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimRight(lines[i], "\r")
		}
		words := strings.Fields(line)
		if len(words) < 3 || strings.HasPrefix(words[0], "#") || words[0] != "options" {
			continue
		}
		if strings.ReplaceAll(words[1], "-", "_") != Module {
			continue
		}
		for _, w := range words[2:] {
			if strings.HasPrefix(w, "#") {
				break
			}
			name, value, ok := strings.Cut(w, "=")
			if !ok {
				value = "1"
			}
			out = append(out, Source{Where: where, Line: start, Param: Param{Name: name, Value: strings.Trim(value, `"`)}})
		}
	}
	return out
}

// ParseCmdline returns the amdgpu.name=value words of a kernel command
// line (/proc/cmdline). The kernel treats '-' and '_' in parameter names
// alike; names are returned with '_'.
func ParseCmdline(data []byte) []Source {
	var out []Source
	for _, w := range strings.Fields(string(data)) {
		rest, ok := strings.CutPrefix(w, Module+".")
		if !ok {
			continue
		}
		name, value, ok := strings.Cut(rest, "=")
		if !ok {
			value = "1"
		}
		out = append(out, Source{Where: "/proc/cmdline", Param: Param{Name: strings.ReplaceAll(name, "-", "_"), Value: strings.Trim(value, `"`)}})
	}
	return out
}
