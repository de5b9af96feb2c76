package setup

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ErrBusy is returned by Open when another rocm-patch setup holds the lock.
var ErrBusy = errors.New("another rocm-patch setup is running for this home folder")

// Session is one run of setup or undo: the manifest, loaded under a lock
// that keeps a second setup of the same user out until Close.
type Session struct {
	Home Home
	// Manifest is what earlier runs recorded; the session's methods keep
	// it and the file in step.
	Manifest *Manifest
	// Now gives the time changes are recorded with.
	Now func() time.Time

	manifestPath string
	exists       bool
	lock         *os.File
}

// Open locks h's home folder and loads the manifest. The lock is taken on
// the home folder itself, which always exists, so that a setup that
// changes nothing creates nothing (not even a lock file).
func Open(h Home) (*Session, error) {
	f, err := os.Open(h.Dir)
	if err != nil {
		return nil, fmt.Errorf("home folder: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, fmt.Errorf("lock %s: %w", h.Dir, err)
	}
	s := &Session{Home: h, Now: time.Now, manifestPath: h.ManifestPath(), lock: f}
	if s.Manifest, s.exists, err = readManifest(s.manifestPath); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the lock.
func (s *Session) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

// ManifestPath is where the session records its changes.
func (s *Session) ManifestPath() string { return s.manifestPath }

// save writes the manifest as it is now.
func (s *Session) save() error {
	if err := writeManifest(s.manifestPath, s.Manifest, s.exists); err != nil {
		return err
	}
	s.exists = len(s.Manifest.Changes) > 0
	return nil
}

// record adds c, replacing an earlier change of the same step to the
// same file, and saves.
func (s *Session) record(c Change) error {
	if i := s.Manifest.find(c.Step, c.File); i >= 0 && c.Step != StepKernel {
		s.Manifest.Changes[i] = c
	} else {
		s.Manifest.Changes = append(s.Manifest.Changes, c)
	}
	return s.save()
}

// forget drops the change at index i and saves.
func (s *Session) forget(c Change) error {
	for i := len(s.Manifest.Changes) - 1; i >= 0; i-- {
		if sameChange(s.Manifest.Changes[i], c) {
			s.Manifest.Changes = append(s.Manifest.Changes[:i], s.Manifest.Changes[i+1:]...)
			return s.save()
		}
	}
	return nil
}

func sameChange(a, b Change) bool {
	return a.Step == b.Step && a.File == b.File && a.Time.Equal(b.Time) && a.SHA256 == b.SHA256
}
