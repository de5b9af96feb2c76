package hw

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

func openTestIDs(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/amdgpu.ids")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseIDTableExcerpt(t *testing.T) {
	tab, err := ParseIDTable(bytes.NewReader(openTestIDs(t)))
	if err != nil {
		t.Fatal(err)
	}
	if bad := tab.BadLines(); len(bad) != 0 {
		t.Fatalf("bad lines in the excerpt: %v", bad)
	}
	if tab.Version() != "1.0.0" {
		t.Errorf("Version() = %q, want 1.0.0", tab.Version())
	}
	if tab.Len() != 30 {
		t.Errorf("Len() = %d, want 30", tab.Len())
	}
	tests := []struct {
		dev, rev  uint16
		name      string
		exact, ok bool
	}{
		{0x73DF, 0xC1, "AMD Radeon RX 6700 XT", true, true},
		{0x73DF, 0xC0, "AMD Radeon RX 6750 XT", true, true},
		{0x73DF, 0xFF, "AMD Radeon RX 6750 XT", false, true}, // unlisted revision: first for the device
		{0x687F, 0xC1, "AMD Radeon RX Vega", true, true},
		{0x6860, 0x00, "AMD Radeon Instinct MI25", true, true},
		{0x6860, 0x03, "AMD Radeon Pro V340", true, true},
		// Two names for one (device, revision): the first wins, as in libdrm.
		{0x15D8, 0x91, "AMD Radeon Vega 3 Graphics", true, true},
		{0x743F, 0xC3, "AMD Radeon RX 6500", true, true},
		{0x7550, 0xC0, "AMD Radeon RX 9070 XT", true, true},
		{0x7550, 0x1C0, "AMD Radeon RX 9070 XT", false, true}, // revisions are bytes; no exact match above 0xff
		{0x1234, 0x00, "", false, false},
	}
	for _, tt := range tests {
		name, exact, ok := tab.Lookup(tt.dev, tt.rev)
		if name != tt.name || exact != tt.exact || ok != tt.ok {
			t.Errorf("Lookup(%#04x, %#02x) = %q, %v, %v; want %q, %v, %v", tt.dev, tt.rev, name, exact, ok, tt.name, tt.exact, tt.ok)
		}
	}
}

func TestParseIDTableMalformed(t *testing.T) {
	in := strings.Join([]string{
		"# comment",
		"1.0.0",
		"73DF,\tC1,\tAMD Radeon RX 6700 XT",
		"7481,   C7,     AMD Steam Machine", // spaces, as upstream has it
		"73df,c5,AMD Radeon RX 6700 XT (lower case)\r",
		"ZZZZ,\tC1,\tbad device",
		"73DF,\tXYZ,\tbad revision",
		"12345,\t00,\ttoo wide",
		"73DF,\tC1",
		"73DF,\tC2,\t   ",
		",\tC1,\tno device",
		"   # indented comment",
		"",
		"   ",
		"7550,\tC0,\tName, with a comma",
	}, "\n")
	tab, err := ParseIDTable(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []LineError{
		{6, `device id "ZZZZ" is not hexadecimal`},
		{7, `revision "XYZ" has more than 2 hex digits`},
		{8, `device id "12345" has more than 4 hex digits`},
		{9, "want DEVICE,<tab>REVISION,<tab>NAME"},
		{10, "empty product name"},
		{11, "device id is empty"},
	}
	got := tab.BadLines()
	if len(got) != len(want) {
		t.Fatalf("BadLines() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("BadLines()[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if got[0].Error() != `line 6: device id "ZZZZ" is not hexadecimal` {
		t.Errorf("LineError.Error() = %q", got[0].Error())
	}
	var asErr error = got[0]
	var le LineError
	if !errors.As(asErr, &le) || le.Line != 6 {
		t.Errorf("LineError does not work as an error value: %v", asErr)
	}
	if tab.Len() != 4 {
		t.Errorf("Len() = %d, want 4", tab.Len())
	}
	for _, c := range []struct {
		dev, rev uint16
		name     string
	}{
		{0x7481, 0xC7, "AMD Steam Machine"},
		{0x73DF, 0xC5, "AMD Radeon RX 6700 XT (lower case)"},
		{0x7550, 0xC0, "Name, with a comma"},
	} {
		if name, exact, ok := tab.Lookup(c.dev, c.rev); !ok || !exact || name != c.name {
			t.Errorf("Lookup(%#04x, %#02x) = %q, %v, %v; want %q", c.dev, c.rev, name, exact, ok, c.name)
		}
	}
}

func TestParseIDTableVersionLine(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		version  string
		entries  int
		bad      []LineError
		wantNone bool // ErrNoEntries expected
	}{
		{"empty", "", "", 0, nil, false},
		{"comments only", "# a\n\n# b\n", "", 0, nil, false},
		{"version only", "1.0.0\n", "1.0.0", 0, nil, false},
		{"BOM and CRLF", "\xef\xbb\xbf1.0.0\r\n73DF,\tC1,\tX\r\n", "1.0.0", 1, nil, false},
		{"no trailing newline", "1.0.0\n73DF,\tC1,\tX", "1.0.0", 1, nil, false},
		{"missing version", "73DF,\tC1,\tX\n73BF,\tC1,\tY\n", "", 2,
			[]LineError{{1, "no version line such as 1.0.0 before the first entry"}}, false},
		{"garbage", "hello world\nthis is not a table\n", "", 0,
			[]LineError{
				{1, "neither a version such as 1.0.0 nor an entry: want DEVICE,<tab>REVISION,<tab>NAME"},
				{2, "want DEVICE,<tab>REVISION,<tab>NAME"},
			}, true},
		{"second version-like line", "1.0.0\n2.0.0\n73DF,\tC1,\tX\n", "1.0.0", 1,
			[]LineError{{2, "want DEVICE,<tab>REVISION,<tab>NAME"}}, false},
		{"long line", "1.0.0\n" + strings.Repeat("A", maxIDLine+10) + "\n73DF,\tC1,\tX\n", "1.0.0", 1,
			[]LineError{{2, "longer than 4096 bytes"}}, false},
		{"line exactly at the cap", "1.0.0\n73DF,\tC1,\t" + strings.Repeat("N", maxIDLine-10) + "\n", "1.0.0", 1, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := ParseIDTable(strings.NewReader(tt.in))
			if tt.wantNone {
				if !errors.Is(err, ErrNoEntries) {
					t.Errorf("error = %v, want ErrNoEntries", err)
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tab == nil {
				t.Fatal("nil table")
			}
			if tab.Version() != tt.version || tab.Len() != tt.entries {
				t.Errorf("Version() = %q, Len() = %d; want %q, %d", tab.Version(), tab.Len(), tt.version, tt.entries)
			}
			got := tab.BadLines()
			if len(got) != len(tt.bad) {
				t.Fatalf("BadLines() = %v, want %v", got, tt.bad)
			}
			for i := range got {
				if got[i] != tt.bad[i] {
					t.Errorf("BadLines()[%d] = %v, want %v", i, got[i], tt.bad[i])
				}
			}
		})
	}
}

func TestParseIDTableReadError(t *testing.T) {
	r := iotest.TimeoutReader(strings.NewReader("1.0.0\n73DF,\tC1,\tX\n"))
	// TimeoutReader fails its second read; a small first read leaves part
	// of the input for it.
	tab, err := ParseIDTable(iotest.HalfReader(r))
	if err == nil || !errors.Is(err, iotest.ErrTimeout) {
		t.Fatalf("error = %v, want a wrapped ErrTimeout", err)
	}
	if tab == nil {
		t.Fatal("a read error must still return the partial table")
	}
}

func TestIDTableNilLookup(t *testing.T) {
	var tab *IDTable
	if _, _, ok := tab.Lookup(0x73DF, 0xC1); ok {
		t.Error("nil table found an entry")
	}
}

// TestParseSystemIDTable parses the machine's own libdrm table when there is
// one: it must be read without a single bad line.
func TestParseSystemIDTable(t *testing.T) {
	const path = "/usr/share/libdrm/amdgpu.ids"
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("%s not present: %v", path, err)
	}
	defer f.Close()
	tab, err := ParseIDTable(f)
	if err != nil {
		t.Fatal(err)
	}
	if bad := tab.BadLines(); len(bad) != 0 {
		t.Errorf("%s: %d bad lines, first %v", path, len(bad), bad[0])
	}
	if name, exact, ok := tab.Lookup(0x73DF, 0xC1); !ok || !exact || name != "AMD Radeon RX 6700 XT" {
		t.Errorf("Lookup(73DF, C1) = %q, %v, %v; want AMD Radeon RX 6700 XT", name, exact, ok)
	}
	if tab.Version() == "" {
		t.Error("no version line read")
	}
}

func BenchmarkParseIDTable(b *testing.B) {
	data := openTestIDs(b)
	if sys, err := os.ReadFile("/usr/share/libdrm/amdgpu.ids"); err == nil {
		data = sys // the real size, when the machine has it
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseIDTable(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
