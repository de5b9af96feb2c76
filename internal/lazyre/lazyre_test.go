package lazyre

import "testing"

func TestNewCompilesOnceOnFirstUse(t *testing.T) {
	re := New(`^a+b$`)
	first := re()
	if !first.MatchString("aab") || first.MatchString("ab!") {
		t.Fatalf("pattern %q matches wrongly", first)
	}
	if re() != first {
		t.Fatal("a second call compiled the pattern again")
	}
}

func TestNewPanicsOnBadPatternOnlyWhenUsed(t *testing.T) {
	re := New(`(`) // creating it must not panic: nothing is compiled yet
	defer func() {
		if recover() == nil {
			t.Fatal("using an invalid pattern did not panic")
		}
	}()
	re()
}
