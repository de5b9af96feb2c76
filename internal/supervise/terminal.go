package supervise

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// fdOf returns f's descriptor without f.Fd's side effect of switching the
// file to blocking mode, which would change the user's streams for every
// other reader and writer of the same open file.
func fdOf(f *os.File) (int, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, false
	}
	fd := -1
	if err := rc.Control(func(u uintptr) { fd = int(u) }); err != nil {
		return -1, false
	}
	return fd, fd >= 0
}

// terminalFile returns w as a file when it is one and refers to a terminal.
func terminalFile(w any) *os.File {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return nil
	}
	fd, ok := fdOf(f)
	if !ok {
		return nil
	}
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err != nil {
		return nil
	}
	return f
}

// sameFile reports whether a and b are files that refer to the same file
// (the shell's 2>&1), so the child can get one pipe for both and the user
// sees stdout and stderr in exactly the order the child wrote them.
func sameFile(a, b io.Writer) bool {
	fa, ok1 := a.(*os.File)
	fb, ok2 := b.(*os.File)
	if !ok1 || !ok2 || fa == nil || fb == nil {
		return false
	}
	sa, err1 := fa.Stat()
	sb, err2 := fb.Stat()
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// openPTY opens a pseudo-terminal pair. The master is non-blocking so it
// joins Go's poller: its reads and writes can be cut short by a deadline or
// Close when the child is gone. The slave is left blocking, as a child
// expects its terminal to be.
func openPTY() (master, slave *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN)
	if err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("pseudo-terminal number: %w", err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("unlock pseudo-terminal: %w", err)
	}
	name := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	s, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(m)
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	return os.NewFile(uintptr(m), "/dev/ptmx"), os.NewFile(uintptr(s), name), nil
}

// configurePTY gives the slave the user's terminal settings (from, when
// not nil), with three changes that keep what the user sees identical to
// running the child on the terminal directly:
//   - no output processing, so the child's "\n" reaches the user's
//     terminal as "\n" and that terminal adds its own "\r" as before;
//   - no echo, because the user's terminal, in cooked mode, already echoed
//     what the user typed before it is relayed;
//   - no signal characters, because ^C and ^\ are turned into signals by
//     the user's terminal and forwarded by Run.
//
// It returns the end-of-file character, which the relay writes when the
// user ends input with ^D.
func configurePTY(slave *os.File, from *os.File) (eof byte, err error) {
	sfd, ok := fdOf(slave)
	if !ok {
		return 0, errors.New("pseudo-terminal has no descriptor")
	}
	src := sfd
	if from != nil {
		if fd, ok := fdOf(from); ok {
			src = fd
		}
	}
	t, err := unix.IoctlGetTermios(src, unix.TCGETS)
	if err != nil {
		if t, err = unix.IoctlGetTermios(sfd, unix.TCGETS); err != nil {
			return 0, fmt.Errorf("read terminal settings: %w", err)
		}
	}
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL | unix.ISIG
	if err := unix.IoctlSetTermios(sfd, unix.TCSETS, t); err != nil {
		return 0, fmt.Errorf("set terminal settings: %w", err)
	}
	eof = t.Cc[unix.VEOF]
	if eof == 0 {
		eof = 4
	}
	return eof, nil
}

// copySize gives the pseudo-terminal the size of the user's terminal; the
// kernel then sends SIGWINCH to the child, so progress bars that fit the
// width (tqdm's dynamic_ncols) follow a resize as they would directly.
func copySize(from, master *os.File) {
	ffd, ok1 := fdOf(from)
	mfd, ok2 := fdOf(master)
	if !ok1 || !ok2 {
		return
	}
	ws, err := unix.IoctlGetWinsize(ffd, unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	_ = unix.IoctlSetWinsize(mfd, unix.TIOCSWINSZ, ws)
}

// foreground reports whether this process may read the terminal fd
// without being stopped by SIGTTIN: it is in the terminal's foreground
// process group, or the terminal is not its controlling terminal (then no
// job control applies).
func foreground(fd int) bool {
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil {
		return errors.Is(err, unix.ENOTTY)
	}
	return pgrp == unix.Getpgrp()
}

// relayInput copies what the user types on the terminal in to the
// pseudo-terminal master until wake becomes readable (or is closed).
//
// It polls before every read so it never takes bytes that nobody will
// deliver: after Run the rest of the user's typing stays in the terminal
// for the shell or the next attempt. It reads only while this process is
// in the terminal's foreground group, so "rocm-patch run ... &" is not
// stopped by SIGTTIN. It never changes the terminal's modes or its file
// status flags, which are shared with the shell.
func relayInput(in *os.File, master *os.File, eof byte, wake int) {
	ifd, ok := fdOf(in)
	if !ok {
		return
	}
	buf := make([]byte, 4096)
	fds := []unix.PollFd{{Fd: int32(ifd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, 250); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if fds[1].Revents != 0 || fds[0].Revents&unix.POLLNVAL != 0 {
			return
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) == 0 {
			continue
		}
		if !foreground(ifd) {
			// Typed input waits for us to come back to the foreground;
			// sleep on wake alone so the pending input does not spin us.
			_, _ = unix.Poll(fds[1:], 250)
			if fds[1].Revents != 0 {
				return
			}
			continue
		}
		n, err := unix.Read(ifd, buf)
		switch {
		case errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN):
			continue
		case err != nil:
			return // EIO: the terminal hung up
		case n == 0:
			if fds[0].Revents&unix.POLLHUP != 0 {
				return
			}
			// ^D on the user's terminal: pass the end of input on.
			if _, err := master.Write([]byte{eof}); err != nil {
				return
			}
		default:
			if _, err := master.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}
