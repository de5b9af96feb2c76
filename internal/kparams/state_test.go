package kparams

import (
	"strings"
	"testing"
)

const validState = `{
  "schema": "rocm-patch/kernel-state/v1",
  "file": "/etc/modprobe.d/rocm-patch-amdgpu.conf",
  "applies": [
    {
      "time": "2025-01-02T03:04:05Z",
      "profile": "thermal-2025",
      "params": [{"name": "gttsize", "value": "8192"}],
      "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "previous": {"absent": false, "backup": "/var/lib/rocm-patch/backups/rocm-patch-amdgpu.conf.20250102T030405.000000000Z", "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "mode": 420}
    }
  ]
}`

func TestParseState(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		err      string
	}{
		{"valid", "", "", ""},
		{"schema", "kernel-state/v1", "kernel-state/v2", "schema"},
		{"file", `"file": "/etc/modprobe.d/rocm-patch-amdgpu.conf"`, `"file": "/etc/passwd"`, "file"},
		{"unknown field", `"profile"`, `"profil"`, "unknown field"},
		{"sha", `"sha256": "e3b0`, `"sha256": "zz`, "sha256"},
		{"backup elsewhere", "/var/lib/rocm-patch/backups/rocm-patch-amdgpu.conf.20250102T030405.000000000Z", "/etc/shadow.2025", "backup"},
		{"backup climbs", "/var/lib/rocm-patch/backups/rocm-patch-amdgpu.conf.20250102T030405.000000000Z", "/var/lib/rocm-patch/backups/../../../etc/x.conf.2025", "backup"},
		{"backup name", "rocm-patch-amdgpu.conf.20250102T030405.000000000Z", "other.conf.2025", "backup"},
		{"absent with backup", `"absent": false`, `"absent": true`, "absent"},
		{"mode", `"mode": 420`, `"mode": 2147484141`, "mode"},
		{"hostile param", `"value": "8192"`, `"value": "1\noptions nouveau x=1"`, "not an integer"},
		{"not json", "{", "[", "invalid character"},
		{"trailing", "\n}", "\n} {}", "after the state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(validState, tt.old, tt.new, 1)
			if tt.old != "" && data == validState {
				t.Fatalf("%q not found", tt.old)
			}
			s, err := ParseState([]byte(data))
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if last := s.Last(); last == nil || last.Profile != "thermal-2025" || last.Previous.Mode != 0o644 {
					t.Errorf("last = %+v", last)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), StatePath) {
				t.Errorf("err = %v, want one naming %s and %q", err, StatePath, tt.err)
			}
		})
	}
	var none *State
	if none.Last() != nil {
		t.Error("nil state has a last apply")
	}
}

// FuzzParseState: nothing panics, and an accepted state points rollback
// only at backups under BackupDir.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(validState))
	f.Add([]byte(`{"schema":"rocm-patch/kernel-state/v1","file":"/etc/modprobe.d/rocm-patch-amdgpu.conf","applies":[]}`))
	f.Add([]byte(`{"schema":"rocm-patch/kernel-state/v1","file":"/etc/modprobe.d/rocm-patch-amdgpu.conf","applies":[{"previous":{"absent":true}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseState(data)
		if err != nil {
			return
		}
		for _, a := range s.Applies {
			if b := a.Previous.Backup; !a.Previous.Absent && (!strings.HasPrefix(b, BackupDir+"/") || strings.Contains(b, "..") || strings.Count(b, "/") != strings.Count(BackupDir, "/")+1) {
				t.Errorf("accepted backup %q", b)
			}
		}
	})
}
