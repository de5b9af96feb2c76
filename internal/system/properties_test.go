package system

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		keys     map[string]uint64
		problems int
		badKey   string // Uint must fail for this key
	}{
		{"real GPU node", "cpu_cores_count 0\nsimd_count 416\ngfx_target_version 90010\nhive_id 12609507387757274807\n", map[string]uint64{"simd_count": 416, "gfx_target_version": 90010, "hive_id": 12609507387757274807}, 0, ""},
		{"no trailing newline", "device_id 29711", map[string]uint64{"device_id": 29711}, 0, ""},
		{"CRLF and blank lines", "a 1\r\n\r\nb 2\r\n", map[string]uint64{"a": 1, "b": 2}, 0, ""},
		{"truncated last line", "simd_count 80\ngfx_target_vers", map[string]uint64{"simd_count": 80}, 1, ""},
		{"three fields", "a 1 2\nb 3\n", map[string]uint64{"b": 3}, 1, ""},
		{"repeated key keeps first", "a 1\na 2\n", map[string]uint64{"a": 1}, 1, ""},
		{"not a number", "device_id 0x73df\n", nil, 0, "device_id"},
		{"negative", "device_id -1\n", nil, 0, "device_id"},
		{"overflow", "unique_id 18446744073709551616\n", nil, 0, "unique_id"},
		{"empty", "", nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ParseProperties([]byte(tt.in))
			for k, want := range tt.keys {
				got, ok, err := p.Uint(k)
				if !ok || err != nil || got != want {
					t.Errorf("Uint(%s) = %d, %v, %v; want %d", k, got, ok, err, want)
				}
			}
			if len(p.Problems) != tt.problems {
				t.Errorf("problems = %q, want %d", p.Problems, tt.problems)
			}
			if tt.badKey != "" {
				if _, ok, err := p.Uint(tt.badKey); !ok || err == nil || !strings.Contains(err.Error(), tt.badKey) {
					t.Errorf("Uint(%s) should fail naming the key, got ok=%v err=%v", tt.badKey, ok, err)
				}
			}
			if _, ok, err := p.Uint("absent"); ok || err != nil {
				t.Errorf("absent key: ok=%v err=%v", ok, err)
			}
		})
	}
}

func FuzzParseProperties(f *testing.F) {
	for _, seed := range []string{
		"cpu_cores_count 0\nsimd_count 80\ngfx_target_version 100301\n",
		"simd_count 80\ngfx_target_vers",
		"unique_id 18446744073709551616\n",
		"\x00\xff key\n\n value",
		"a  1\n\tb 2\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := ParseProperties(data)
		for _, problem := range p.Problems {
			if !strings.HasPrefix(problem, "line ") {
				t.Fatalf("problem without a line number: %q", problem)
			}
		}
		if p.Len() > strings.Count(string(data), "\n")+1 {
			t.Fatalf("more keys (%d) than lines", p.Len())
		}
		for k := range p.values {
			if strings.ContainsAny(k, " \n") {
				t.Fatalf("key with a separator: %q", k)
			}
			if v, ok, err := p.Uint(k); ok && err == nil && !utf8.ValidString(k) && v == 0 {
				continue
			}
		}
	})
}
