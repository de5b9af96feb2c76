package hw

import (
	"errors"
	"testing"
)

func TestParseOverride(t *testing.T) {
	tests := []struct {
		in   string
		want GFXVersion
	}{
		{"10.3.0", GFXVersion{10, 3, 0}},
		{"11.0.0", GFXVersion{11, 0, 0}},
		{"9.0.12", GFXVersion{9, 0, 12}}, // valid for libhsakmt; names gfx90c
		{"9.4.2", GFXVersion{9, 4, 2}},
		{"63.255.255", GFXVersion{63, 255, 255}},
		{"0.0.0", GFXVersion{0, 0, 0}},
		// glibc's %u skips whitespace before each number and takes a sign.
		{" 10.3.0", GFXVersion{10, 3, 0}},
		{"\t10.\n3. 0", GFXVersion{10, 3, 0}},
		{"+10.+3.+0", GFXVersion{10, 3, 0}},
		{"-0.3.0", GFXVersion{0, 3, 0}},
		{"010.03.00", GFXVersion{10, 3, 0}},
		// Stored into an unsigned int: 2^32+10 keeps its low 32 bits.
		{"4294967306.3.0", GFXVersion{10, 3, 0}},
	}
	for _, tt := range tests {
		got, err := ParseOverride(tt.in)
		if err != nil {
			t.Errorf("ParseOverride(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseOverride(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	v, _ := ParseOverride("9.0.12")
	if name, err := v.Target(); err != nil || name != "gfx90c" {
		t.Errorf("9.0.12 names %q, %v; want gfx90c", name, err)
	}
}

func TestParseOverrideErrors(t *testing.T) {
	const want = "want major.minor.stepping such as 10.3.0"
	tests := []struct{ in, msg string }{
		{"1030", `malformed HSA_OVERRIDE_GFX_VERSION "1030": ` + want + ", got 1 of 3 numbers"},
		{"10.3", `malformed HSA_OVERRIDE_GFX_VERSION "10.3": ` + want + ", got 2 of 3 numbers"},
		{"10.3.", `malformed HSA_OVERRIDE_GFX_VERSION "10.3.": ` + want + ", got 2 of 3 numbers"},
		{"abc", `malformed HSA_OVERRIDE_GFX_VERSION "abc": ` + want + `, got "a" where number 1 should start`},
		{"10.x.0", `malformed HSA_OVERRIDE_GFX_VERSION "10.x.0": ` + want + `, got "x" where number 2 should start`},
		{"gfx1030", `malformed HSA_OVERRIDE_GFX_VERSION "gfx1030": ` + want + `, got "g" where number 1 should start`},
		{"10,3,0", `malformed HSA_OVERRIDE_GFX_VERSION "10,3,0": ` + want + `, got "," after number 1 where a dot belongs`},
		{"10 .3.0", `malformed HSA_OVERRIDE_GFX_VERSION "10 .3.0": ` + want + `, got " " after number 1 where a dot belongs`},
		{"10.-", `malformed HSA_OVERRIDE_GFX_VERSION "10.-": ` + want + ", got a sign with no digits for number 2"},
		{"", `malformed HSA_OVERRIDE_GFX_VERSION "": ` + want + ", got an empty value"},
		{"  ", `malformed HSA_OVERRIDE_GFX_VERSION "  ": ` + want + ", got only whitespace"},
		{"10.3.0 ", `malformed HSA_OVERRIDE_GFX_VERSION "10.3.0 ": trailing " " after the stepping; libhsakmt rejects any character after the third number`},
		{"10.3.0\n", `malformed HSA_OVERRIDE_GFX_VERSION "10.3.0\n": trailing "\n" after the stepping; libhsakmt rejects any character after the third number`},
		{"10.3.0.1", `malformed HSA_OVERRIDE_GFX_VERSION "10.3.0.1": trailing ".1" after the stepping; libhsakmt rejects any character after the third number`},
		{"64.0.0", `malformed HSA_OVERRIDE_GFX_VERSION "64.0.0": major 64 is above 63`},
		{"10.256.0", `malformed HSA_OVERRIDE_GFX_VERSION "10.256.0": minor 256 is above 255`},
		{"10.3.256", `malformed HSA_OVERRIDE_GFX_VERSION "10.3.256": stepping 256 is above 255`},
		{"-1.3.0", `malformed HSA_OVERRIDE_GFX_VERSION "-1.3.0": major "-1" reads as 4294967295, above 63`},
		{"99999999999999999999.0.0", `malformed HSA_OVERRIDE_GFX_VERSION "99999999999999999999.0.0": major "99999999999999999999" reads as 4294967295, above 63`},
		{"10.3.0\x00", `malformed HSA_OVERRIDE_GFX_VERSION "10.3.0\x00": contains a NUL byte, which no environment variable can hold`},
	}
	for _, tt := range tests {
		got, err := ParseOverride(tt.in)
		if err == nil {
			t.Errorf("ParseOverride(%q) = %+v, want an error", tt.in, got)
			continue
		}
		if !errors.Is(err, ErrMalformedOverride) {
			t.Errorf("ParseOverride(%q) error %v does not wrap ErrMalformedOverride", tt.in, err)
		}
		if err.Error() != tt.msg {
			t.Errorf("ParseOverride(%q) error\n got %s\nwant %s", tt.in, err, tt.msg)
		}
	}
}
