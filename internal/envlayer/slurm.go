package envlayer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SlurmTaskProlog is the output of a Slurm TaskProlog: the lines slurmstepd
// reads from the prolog's standard output to change the task's environment.
const SlurmTaskProlog Shell = "slurm-taskprolog"

// slurmMaxLine bounds every line written for Slurm. Older slurmstepd releases
// read TaskProlog output with fgets into a 4096-byte buffer
// (src/slurmd/slurmstepd/task.c, _run_script_and_set_env; newer ones collect
// the whole output with run_command): a longer line was cut, and its
// remainder parsed as a line of its own. Staying well under the buffer keeps
// every release reading whole lines.
const slurmMaxLine = 4000

// renderSlurmTaskProlog writes the layer for slurmstepd's TaskProlog parser
// (src/slurmd/slurmstepd/task.c, _proc_stdout; documented in
// https://slurm.schedmd.com/prolog_epilog.html). That parser runs no shell.
// It takes the output line by line (split at "\n" only) and acts on three
// prefixes at the start of a line:
//
//	"export " NAME "=" VALUE  the name runs from the first non-space to the
//	                          first "=" (trailing spaces dropped); the value
//	                          is every byte after that "=" up to the line
//	                          feed, taken literally and set with setenv: no
//	                          quotes are removed, no $ or \ is interpreted,
//	                          leading and trailing spaces are kept
//	"unset " NAME             removes the variable
//	"print " TEXT             copies TEXT to the task's output
//
// Every other line is ignored, which makes "#" lines comments. So a value
// is written bare, never quoted, and one holding a line feed cannot be
// written at all (the rest would become a line of its own, possibly an
// "export"): it is refused with ErrUnrepresentable, as is a line over
// slurmMaxLine. A comment line over that length is cut instead: losing the
// end of a comment changes nothing.
func renderSlurmTaskProlog(l Layer) (string, error) {
	var b strings.Builder
	writeHeader(&b, l, SlurmTaskProlog)
	if len(l.Vars) > 0 {
		writeComment(&b, "", `Slurm TaskProlog output: slurmstepd applies each "export NAME=value" and "unset NAME" line to the task's environment, values taken literally (docs/fleet.md)`)
	}
	for _, v := range l.Vars {
		writeVarComment(&b, v)
		if v.Unset {
			fmt.Fprintf(&b, "unset %s\n", v.Name)
			continue
		}
		if strings.ContainsAny(v.Value, "\n") {
			return "", fmt.Errorf("variable %s: %w: Slurm reads a TaskProlog line by line, so a value cannot hold a line feed", v.Name, ErrUnrepresentable)
		}
		line := "export " + v.Name + "=" + v.Value
		if len(line) > slurmMaxLine {
			return "", fmt.Errorf("variable %s: %w: a line of %d bytes, over the %d a Slurm TaskProlog line can safely be", v.Name, ErrUnrepresentable, len(line), slurmMaxLine)
		}
		b.WriteString(line + "\n")
	}
	return clipComments(b.String()), nil
}

// clipComments cuts every "#" line longer than slurmMaxLine at a character
// boundary. Comments are wrapped at commentWidth already; only one word
// longer than a line (a long path from the machine) gets here.
func clipComments(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, line := range lines {
		body := strings.TrimSuffix(line, "\n")
		if len(body) <= slurmMaxLine || !strings.HasPrefix(body, "#") {
			continue
		}
		cut := slurmMaxLine
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		lines[i] = body[:cut] + "\n"
	}
	return strings.Join(lines, "")
}
