// Package supervise runs one attempt of a user's command (a PyTorch
// training script, say) the way a hardened supervisor must, and reports how
// it ended. Retries, the fix ladder and history belong to the caller: Run
// exposes what they need (exit code or signal, whether the user
// interrupted, every line of output for the crash matcher) and nothing
// else.
//
// # Process group and signals
//
// The child leads a new session, and so a process group of its own that
// its workers (DataLoader processes) inherit. Keys typed at the user's
// terminal (^C, ^\) therefore signal only the supervisor, which forwards
// what arrives on Spec.Signals to the whole group. The first stop signal
// (SIGINT, SIGTERM, SIGHUP, SIGQUIT) or the end of the context marks the
// run Interrupted and starts Spec.Grace; when it runs out the group gets
// SIGKILL. Each stop signal is followed by SIGCONT, so that a stopped
// group acts on it. A new session rather
// than only a new group also means the child cannot be stopped by SIGTTIN
// reading a terminal it does not own: its controlling terminal is its own
// pseudo-terminal, or none.
//
// The leader is waited for with waitid(WNOWAIT) and reaped last, so its
// pid, and the group id, cannot be reused while Run still signals the
// group.
//
// # Output
//
// Each output stream is read with a 1 MiB buffer (from a pipe enlarged to
// 1 MiB) and each read is passed on at once, first to the user's stream.
// Then, when there is a log, the buffer goes to a goroutine that writes
// Spec.Log, so that the log write overlaps the next read; its queue is
// four buffers long, and a log that cannot keep up holds the child back
// rather than lose output. Then the bytes go to a side queue: a large read
// is handed over as it is, a small one copied. Lines are split on the side
// goroutine, which calls
// Spec.OnLine; "\n", "\r" and "\r\n" end a line, so each redraw of a
// progress bar is a line. A line longer than MaxLineBytes arrives in
// pieces flagged Partial, so there is no limit on line length and the
// memory held per line is bounded. The side queue holds at most 8 MiB;
// beyond that the oldest output is dropped (the newest is what names a
// crash) and counted in Result.DroppedBytes, and the next line is flagged
// Gap. Nothing on the copying path waits for OnLine. A write error on the
// user's stream (a closed pipe) stops writes to it, not the child.
//
// When stdout and stderr are the same file (2>&1) the child gets one pipe
// for both, so their order is kept exactly. When the user's stream is a
// pipe (| tee) it is enlarged to 1 MiB, so a read is passed on in one
// write rather than one 64 KiB pipe-full per wake-up of its reader.
//
// # Terminals
//
// When Spec.Stdin, Stdout or Stderr is a terminal the child runs on a new
// pseudo-terminal, which becomes its controlling terminal; the streams that
// are the user's terminal are connected to it, the others stay pipes. The
// child sees isatty true, so tqdm and friends draw progress bars, while the
// supervisor still sees every byte for the log and the matcher (passing
// the user's terminal to the child directly would hide them). The
// pseudo-terminal takes the user's terminal settings without output
// processing, echo and signal characters: the child's bytes reach the user
// unchanged, the user's terminal, left in cooked mode, echoes and edits
// what is typed and turns ^C into a signal for the supervisor. Its window
// size follows the user's (SIGWINCH). Typed lines are relayed to the child
// only while the supervisor is in the terminal's foreground, and only as
// they are typed, so nothing is taken from the terminal after Run returns.
// Limits of this choice: a password prompt inside the child cannot turn
// the user's echo off, and a child that edits lines itself (readline) sees
// them only after Enter. Without /dev/pts Run falls back to pipes.
//
// # Processes left behind
//
// A child that exits while other members of its group still hold its
// output (DataLoader workers of a crashed trainer) would hang a supervisor
// waiting for end of file. Once the child has exited, Run waits Spec.Drain
// for the output to close; then it kills the rest of the group, which also
// frees the GPU memory they hold before the next attempt, and
// Result.LeftoversKilled says so. Processes that closed their output are
// left alone. A process that left the group (setsid) cannot be found that
// way: after another Drain, Run stops reading and returns.
package supervise
