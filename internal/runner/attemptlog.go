package runner

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
)

// DefaultLogLimit is how much of an attempt's output its log keeps. A
// training job's failure is explained by its first lines (the setup, the
// versions) and its last (the fault); the progress bars between them are
// what fills gigabytes. Writing all of that to disk made the disk, not
// the job, set the pace: past the kernel's dirty-page limit every write
// waits for write-back (a 1 GiB log cut throughput to a quarter).
const DefaultLogLimit int64 = 64 << 20

// logHeadShare is the part of the limit given to the head; the rest keeps
// the tail, where faults are.
const logHeadShare = 4

// attemptLog is an attempt's log file that keeps at most limit bytes of
// output: the first limit/4 bytes, then a line saying how much was left
// out, then the last bytes. The tail is written into two segment files
// used in turn, each at most half the tail's budget; when one is full the
// other is emptied and written. Emptying a segment drops its pages before
// they are ever written back, so a flood of output costs page-cache
// copies, not disk bandwidth. Close joins the segments onto the head.
//
// The file is created by the first Write: an attempt that prints nothing
// leaves no file. Creating a file is the costly part of starting a log
// (a quarter of a millisecond of ext4 inode search on the machine the
// start-up figures were measured on), and it would otherwise come before
// every job starts.
//
// Only the supervisor's log goroutine writes, so there is no locking.
type attemptLog struct {
	path    string
	f       *os.File // the log itself: the head, and the tail on Close; nil until the first Write
	limit   int64    // 0: keep everything
	head    int64    // bytes of the head budget
	segMax  int64    // bytes per tail segment
	written int64    // bytes written to f
	total   int64    // bytes of output seen
	seg     [2]*os.File
	segLen  [2]int64
	cur     int // the segment being written
	err     error
}

// newAttemptLog returns the log at path, which the first Write creates
// (or truncates). limit <= 0 keeps all output.
func newAttemptLog(path string, limit int64) *attemptLog {
	l := &attemptLog{path: path}
	if limit > 0 {
		l.limit = limit
		l.head = limit / logHeadShare
		l.segMax = (limit - l.head) / 2
		if l.segMax < 1 {
			l.segMax = 1
		}
	}
	return l
}

// Created reports whether the log file exists: something was written.
func (l *attemptLog) Created() bool { return l.f != nil }

// Write keeps p in the head while the head has room and in the tail after
// that. It fails only when a file write does; the error sticks.
func (l *attemptLog) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.f == nil {
		f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			l.err = err
			return 0, err
		}
		l.f = f
	}
	n := len(p)
	l.total += int64(n)
	if l.limit == 0 || l.written < l.head {
		take := len(p)
		if l.limit > 0 && int64(take) > l.head-l.written {
			take = int(l.head - l.written)
		}
		if _, err := l.f.Write(p[:take]); err != nil {
			l.err = err
			return 0, err
		}
		l.written += int64(take)
		p = p[take:]
	}
	for len(p) > 0 {
		if err := l.writeTail(&p); err != nil {
			l.err = err
			return 0, err
		}
	}
	return n, nil
}

// writeTail writes as much of *p as the current segment holds, switching
// segments when it is full.
func (l *attemptLog) writeTail(p *[]byte) error {
	if l.segLen[l.cur] >= l.segMax {
		l.cur ^= 1
		if err := l.reset(l.cur); err != nil {
			return err
		}
	}
	if l.seg[l.cur] == nil {
		if err := l.reset(l.cur); err != nil {
			return err
		}
	}
	room := l.segMax - l.segLen[l.cur]
	take := int64(len(*p))
	if take > room {
		take = room
	}
	if _, err := l.seg[l.cur].Write((*p)[:take]); err != nil {
		return err
	}
	l.segLen[l.cur] += take
	*p = (*p)[take:]
	return nil
}

// reset empties segment i, creating it on first use.
func (l *attemptLog) reset(i int) error {
	if l.seg[i] == nil {
		f, err := os.OpenFile(l.segmentPath(i), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		l.seg[i] = f
	} else {
		if err := l.seg[i].Truncate(0); err != nil {
			return err
		}
		if _, err := l.seg[i].Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	l.segLen[i] = 0
	return nil
}

func (l *attemptLog) segmentPath(i int) string {
	return fmt.Sprintf("%s.tail%d", l.path, i)
}

// Close appends the tail (a line saying what was left out, the older
// segment, the newer) to the head, removes the segments and closes the
// log. A log that never exceeded its head is closed as it is. The error
// is the first that any Write or Close met.
func (l *attemptLog) Close() error {
	err := l.err
	if l.f == nil {
		return err
	}
	if err == nil && (l.seg[0] != nil || l.seg[1] != nil) {
		err = l.joinTail()
	}
	for i, s := range l.seg {
		if s != nil {
			s.Close()
			if rerr := os.Remove(l.segmentPath(i)); rerr != nil && err == nil {
				err = rerr
			}
		}
	}
	if cerr := l.f.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func (l *attemptLog) joinTail() error {
	older := l.cur ^ 1
	kept := l.segLen[l.cur]
	if l.seg[older] != nil {
		kept += l.segLen[older]
	}
	if omitted := l.total - l.written - kept; omitted > 0 {
		note := fmt.Sprintf("\n[rocm-patch: %d bytes of output left out of this log here; it keeps the first %s and the last %s of each attempt (--log-limit)]\n",
			omitted, FormatSize(l.head), FormatSize(kept))
		if _, err := io.WriteString(l.f, note); err != nil {
			return err
		}
	}
	for _, i := range []int{older, l.cur} {
		s := l.seg[i]
		if s == nil {
			continue
		}
		if _, err := s.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(l.f, s); err != nil {
			return err
		}
	}
	return nil
}

// ParseSize reads a byte count as --log-limit takes it: a whole number
// with an optional unit K, M or G (powers of 1024; KiB, MB and the like
// are read the same way, case ignored). "0" means no limit.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty size")
	}
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) })
	digits, unit := t, ""
	if i >= 0 {
		digits, unit = t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	}
	if digits == "" {
		return 0, fmt.Errorf("size %q: want a number, optionally followed by K, M or G", s)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, errors.Unwrap(err))
	}
	shift := 0
	switch strings.TrimSuffix(strings.TrimSuffix(unit, "B"), "I") {
	case "":
		if unit != "" && unit != "B" {
			return 0, fmt.Errorf("size %q: unknown unit %q (K, M or G)", s, unit)
		}
	case "K":
		shift = 10
	case "M":
		shift = 20
	case "G":
		shift = 30
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q (K, M or G)", s, unit)
	}
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n << shift, nil
}

// FormatSize writes a byte count for people: in the largest unit that
// divides it (as ParseSize reads it back), else with one decimal.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "G"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "M"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "K"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + "M"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + "K"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
