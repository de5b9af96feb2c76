package history

import (
	"strings"
	"testing"
)

func TestDefaultPath(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"xdg", map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/home/u"}, "/s/rocm-patch/history.db", ""},
		{"home", map[string]string{"HOME": "/home/u"}, "/home/u/.local/state/rocm-patch/history.db", ""},
		{"relative xdg ignored", map[string]string{"XDG_STATE_HOME": "state", "HOME": "/home/u"}, "/home/u/.local/state/rocm-patch/history.db", ""},
		{"nothing", map[string]string{}, "", "HOME"},
		{"relative home", map[string]string{"HOME": "home/u"}, "", "HOME=\"home/u\""},
		{"relative both", map[string]string{"XDG_STATE_HOME": "s", "HOME": "h"}, "", "XDG_STATE_HOME"},
	}
	for _, tt := range tests {
		got, err := DefaultPath(func(k string) string { return tt.env[k] })
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want one naming %s", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: DefaultPath = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if _, err := DefaultPath(nil); err == nil {
		t.Error("DefaultPath(nil): no error")
	}
}
