package hw

import (
	"errors"
	"testing"
)

func TestFromTargetVersion(t *testing.T) {
	tests := []struct {
		in     uint64
		want   GFXVersion
		target string
	}{
		{90010, GFXVersion{9, 0, 10}, "gfx90a"},
		{100300, GFXVersion{10, 3, 0}, "gfx1030"},
		{100301, GFXVersion{10, 3, 1}, "gfx1031"},
		{110001, GFXVersion{11, 0, 1}, "gfx1101"},
		{90402, GFXVersion{9, 4, 2}, "gfx942"},
		{120001, GFXVersion{12, 0, 1}, "gfx1201"},
		{80003, GFXVersion{8, 0, 3}, "gfx803"},
		{90012, GFXVersion{9, 0, 12}, "gfx90c"},
		{110501, GFXVersion{11, 5, 1}, "gfx1151"},
	}
	for _, tt := range tests {
		got, err := FromTargetVersion(tt.in)
		if err != nil {
			t.Fatalf("FromTargetVersion(%d): %v", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("FromTargetVersion(%d) = %+v, want %+v", tt.in, got, tt.want)
		}
		name, err := got.Target()
		if err != nil || name != tt.target {
			t.Errorf("FromTargetVersion(%d).Target() = %q, %v; want %q", tt.in, name, err, tt.target)
		}
	}
}

func TestFromTargetVersionErrors(t *testing.T) {
	for _, in := range []uint64{0, 1, 9999} {
		_, err := FromTargetVersion(in)
		if !errors.Is(err, ErrNoTarget) {
			t.Errorf("FromTargetVersion(%d) error = %v, want ErrNoTarget", in, err)
		}
	}
}

func TestTarget(t *testing.T) {
	tests := []struct {
		v       GFXVersion
		want    string
		wantErr bool
	}{
		{GFXVersion{10, 3, 1}, "gfx1031", false},
		{GFXVersion{9, 0, 10}, "gfx90a", false},
		{GFXVersion{9, 0, 12}, "gfx90c", false},
		{GFXVersion{9, 5, 0}, "gfx950", false},
		{GFXVersion{12, 0, 0}, "gfx1200", false},
		{GFXVersion{10, 3, 15}, "gfx103f", false},
		{GFXVersion{10, 16, 0}, "", true}, // would read back as gfx10100
		{GFXVersion{10, 3, 16}, "", true},
		{GFXVersion{10, 3, 99}, "", true},
		{GFXVersion{0, 3, 0}, "", true},
		{GFXVersion{-1, 3, 0}, "", true},
		{GFXVersion{10, -1, 0}, "", true},
		{GFXVersion{10, 0, -1}, "", true},
	}
	for _, tt := range tests {
		got, err := tt.v.Target()
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%+v.Target() = %q, %v; want %q (error %v)", tt.v, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBadTarget) {
			t.Errorf("%+v.Target() error %v does not wrap ErrBadTarget", tt.v, err)
		}
	}
}

func TestString(t *testing.T) {
	if got := (GFXVersion{10, 3, 1}).String(); got != "10.3.1" {
		t.Errorf("String() = %q, want 10.3.1", got)
	}
	if got := (GFXVersion{9, 0, 10}).String(); got != "9.0.10" {
		t.Errorf("String() = %q, want 9.0.10", got)
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    GFXVersion
		wantErr bool
	}{
		{"gfx1031", GFXVersion{10, 3, 1}, false},
		{"gfx90a", GFXVersion{9, 0, 10}, false},
		{"gfx90c", GFXVersion{9, 0, 12}, false},
		{"gfx90a:xnack-", GFXVersion{9, 0, 10}, false},
		{"gfx942:sramecc+:xnack-", GFXVersion{9, 4, 2}, false},
		{"gfx803", GFXVersion{8, 0, 3}, false},
		{"gfx1201", GFXVersion{12, 0, 1}, false},
		{"amdgcn-amd-amdhsa--gfx1030", GFXVersion{10, 3, 0}, false},
		{"amdgcn-amd-amdhsa--gfx90a:sramecc+:xnack-", GFXVersion{9, 0, 10}, false},
		{"gfx10-3-generic", GFXVersion{}, true},
		{"gfx9-4-generic:xnack-", GFXVersion{}, true},
		{"", GFXVersion{}, true},
		{"gfx", GFXVersion{}, true},
		{"gfx10", GFXVersion{}, true},
		{"gfx0103", GFXVersion{}, true},
		{"GFX1031", GFXVersion{}, true},
		{"gfx90A", GFXVersion{}, true},
		{"gfx10g1", GFXVersion{}, true},
		{"gfx1a31", GFXVersion{}, true},
		{"gfx+1031", GFXVersion{}, true},
		{"gfx123456789", GFXVersion{}, true},
		{"sm_90", GFXVersion{}, true},
		{":gfx1031", GFXVersion{}, true},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBadTarget) {
			t.Errorf("ParseTarget(%q) error %v does not wrap ErrBadTarget", tt.in, err)
		}
	}
}
