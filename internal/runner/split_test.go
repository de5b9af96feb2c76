package runner

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rocm-patch/rocm-patch/internal/envlayer"
)

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  error
	}{
		{"", nil, nil},
		{"  \t\n", nil, nil},
		{"--resume", []string{"--resume"}, nil},
		{"a  b\tc\nd", []string{"a", "b", "c", "d"}, nil},
		{`--ckpt 'runs/my run/last.pt'`, []string{"--ckpt", "runs/my run/last.pt"}, nil},
		{`--name "a \"quoted\" \$HOME \\ \x"`, []string{"--name", `a "quoted" $HOME \ \x`}, nil},
		{`a\ b c\\d`, []string{"a b", `c\d`}, nil},
		{`'' ""`, []string{"", ""}, nil},
		{`x''y "p"'q'r`, []string{"xy", "pqr"}, nil},
		{"a\\\nb", []string{"ab"}, nil},
		{"\"a\\\nb\"", []string{"ab"}, nil},
		{`$HOME *.pt $(rm -rf /)`, []string{"$HOME", "*.pt", "$(rm", "-rf", "/)"}, nil},
		{`'it'\''s'`, []string{"it's"}, nil},
		{`'open`, nil, ErrUnterminatedQuote},
		{`"open`, nil, ErrUnterminatedQuote},
		{`"open\"`, nil, ErrUnterminatedQuote},
		{`end\`, nil, ErrTrailingBackslash},
	}
	for _, tt := range tests {
		got, err := SplitArgs(tt.in)
		if !errors.Is(err, tt.err) || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// FuzzSplitArgs: never a panic; and words quoted the POSIX way and joined
// with spaces split back into the same words.
func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{"a b", `'x y' "z"`, `a\ b`, `"\$"`, "\x00'", `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitArgs(s)
		if err != nil {
			return
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = envlayer.QuotePOSIX(w)
		}
		again, err := SplitArgs(strings.Join(quoted, " "))
		if err != nil || (len(words) > 0 && !reflect.DeepEqual(again, words)) {
			t.Errorf("%q -> %q -> %q, %v", s, words, again, err)
		}
	})
}
