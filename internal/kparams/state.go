package kparams

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/lazyre"
)

// StateSchema names the format of the state file.
const StateSchema = "rocm-patch/kernel-state/v1"

// State is what /var/lib/rocm-patch/kernel-state.json records: every apply
// not yet rolled back, oldest first. Rollback undoes the last one, so
// rolling back as many times as there are entries gives back the file as it
// was before the first apply.
type State struct {
	Schema string `json:"schema"`
	// File is ConfPath.
	File    string    `json:"file"`
	Applies []Applied `json:"applies"`
}

// Applied is one apply.
type Applied struct {
	Time    time.Time `json:"time"`
	Profile string    `json:"profile"`
	Params  []Param   `json:"params"`
	// SHA256 is the digest of the bytes written.
	SHA256   string   `json:"sha256"`
	Previous Previous `json:"previous"`
}

// Previous is the file an apply replaced.
type Previous struct {
	// Absent is true when there was no file; rollback then removes it.
	Absent bool `json:"absent"`
	// Backup is the machine path of the copy under BackupDir.
	Backup string `json:"backup,omitempty"`
	// SHA256 is the digest of the replaced bytes, checked before they
	// are restored.
	SHA256 string `json:"sha256,omitempty"`
	// Mode holds the permission bits of the replaced file.
	Mode fs.FileMode `json:"mode,omitempty"`
}

// Last returns the most recent apply, or nil.
func (s *State) Last() *Applied {
	if s == nil || len(s.Applies) == 0 {
		return nil
	}
	return &s.Applies[len(s.Applies)-1]
}

var (
	sha256Pattern = lazyre.New(`^[0-9a-f]{64}$`)
	backupPattern = lazyre.New(`^rocm-patch-amdgpu\.conf\.[0-9]{8}T[0-9]{6}\.[0-9]{9}Z(-[0-9]+)?$`)
)

// Digest is the lower-case hex SHA-256 of data, as the state file keeps it.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ParseState reads and validates a state file. A backup path must be a
// file directly under BackupDir with the name apply gives backups, so that
// an edited state file cannot make rollback copy another file into
// modprobe.d.
func ParseState(data []byte) (*State, error) {
	var s State
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", StatePath, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: data after the state object", StatePath)
	}
	if s.Schema != StateSchema {
		return nil, fmt.Errorf("%s: schema %q, want %q", StatePath, s.Schema, StateSchema)
	}
	if s.File != ConfPath {
		return nil, fmt.Errorf("%s: file %q, want %q", StatePath, s.File, ConfPath)
	}
	for i, a := range s.Applies {
		where := fmt.Sprintf("%s: applies[%d]", StatePath, i)
		if !sha256Pattern().MatchString(a.SHA256) {
			return nil, fmt.Errorf("%s: sha256 %q is not a hex SHA-256", where, a.SHA256)
		}
		for _, p := range a.Params {
			if err := checkSyntax(p); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		if err := a.Previous.check(); err != nil {
			return nil, fmt.Errorf("%s: previous: %w", where, err)
		}
	}
	return &s, nil
}

func (p Previous) check() error {
	if p.Absent {
		if p.Backup != "" || p.SHA256 != "" {
			return errors.New("absent, yet with a backup")
		}
		return nil
	}
	dir, base := path.Split(p.Backup)
	if strings.TrimSuffix(dir, "/") != BackupDir || !backupPattern().MatchString(base) {
		return fmt.Errorf("backup %q is not a file of %s", p.Backup, BackupDir)
	}
	if !sha256Pattern().MatchString(p.SHA256) {
		return fmt.Errorf("sha256 %q is not a hex SHA-256", p.SHA256)
	}
	if p.Mode&^fs.ModePerm != 0 {
		return fmt.Errorf("mode %v is not permission bits", p.Mode)
	}
	return nil
}

// marshalState renders the state file.
func marshalState(s *State) ([]byte, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", StatePath, err)
	}
	return append(data, '\n'), nil
}
