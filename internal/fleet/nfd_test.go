package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// nfdLabel is one label as node-feature-discovery's local source reads it.
type nfdLabel struct {
	value  string
	expiry time.Time // zero: none
}

// parseNFDFeatureFile reads a feature file by the grammar of NFD's local
// source (kubernetes-sigs/node-feature-discovery source/local/local.go and
// docs/usage/customization-guide.md, "Input format"), strictly:
//
//   - the file is at most 64 kB, or NFD ignores all of it;
//   - it is split on "\n" and each line trimmed of white space; empty lines
//     are skipped;
//   - a line starting with "#" is a comment; one starting with "# +" is a
//     directive: "expiry-time=<RFC 3339>" applies to every later line until
//     the next expiry-time, "no-label" and "no-feature" to the next line
//     only; NFD logs and skips any other directive, which this parser
//     reports as an error;
//   - any other line is "<key>[=<value>]", split at the first "=", the value
//     "true" when absent; the key must carry a namespace.
//
// NFD leaves label syntax to nfd-master, which drops labels Kubernetes would
// refuse; here a bad name or value is an error too, as is a key given twice
// (NFD keeps the last silently). The result maps each key to its value and
// the expiry in force on its line.
func parseNFDFeatureFile(data []byte) (map[string]nfdLabel, error) {
	if len(data) > MaxFeatureFileSize {
		return nil, fmt.Errorf("%d bytes: NFD ignores files over %d", len(data), MaxFeatureFileSize)
	}
	labels := map[string]nfdLabel{}
	var expiry time.Time
	skipLabel := false
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if line != raw {
			return nil, fmt.Errorf("line %d: %q has white space NFD would trim", i+1, raw)
		}
		if strings.HasPrefix(line, "#") {
			directive, ok := strings.CutPrefix(line, "# +")
			if !ok {
				continue
			}
			key, value, hasValue := strings.Cut(directive, "=")
			switch key {
			case "expiry-time":
				if !hasValue {
					return nil, fmt.Errorf("line %d: expiry-time without a value", i+1)
				}
				t, err := time.Parse(time.RFC3339, strings.TrimSpace(value))
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", i+1, err)
				}
				expiry = t
			case "no-label":
				skipLabel = true
			case "no-feature":
			default:
				return nil, fmt.Errorf("line %d: unknown directive %q", i+1, key)
			}
			continue
		}
		key, value, hasValue := strings.Cut(line, "=")
		if !hasValue {
			value = "true"
		}
		if !strings.Contains(key, "/") {
			return nil, fmt.Errorf("line %d: %q has no namespace", i+1, key)
		}
		if err := ValidateLabelName(key); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if err := ValidateLabelValue(value); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if _, dup := labels[key]; dup {
			return nil, fmt.Errorf("line %d: %s given twice", i+1, key)
		}
		if !skipLabel {
			labels[key] = nfdLabel{value: value, expiry: expiry}
		}
		skipLabel = false
	}
	return labels, nil
}

// liveLabels is what NFD publishes at now: labels whose expiry has not passed.
func liveLabels(parsed map[string]nfdLabel, now time.Time) map[string]string {
	out := map[string]string{}
	for k, l := range parsed {
		if l.expiry.IsZero() || !l.expiry.Before(now) {
			out[k] = l.value
		}
	}
	return out
}

// TestParserFollowsNFD runs the test parser over the files NFD's own tests
// use for the local source, so that the parser itself is checked.
func TestParserFollowsNFD(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	file := "# +expiry-time=2012-07-28T11:22:33Z\nvendor.io/feature1=featureValue\n\n" +
		"# +expiry-time=2080-07-28T11:22:33Z\nvendor.io/feature2=featureValue2\n\n" +
		"# +expiry-time=2070-07-28T11:22:33Z\nvendor.io/feature3=featureValue3\n\n" +
		"# +expiry-time=2002-07-28T11:22:33Z\nvendor.io/feature4=featureValue4\n"
	parsed, err := parseNFDFeatureFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"vendor.io/feature2": "featureValue2", "vendor.io/feature3": "featureValue3"}
	if got := liveLabels(parsed, now); !reflect.DeepEqual(got, want) {
		t.Errorf("expiry: %v, want %v", got, want)
	}
	parsed, err = parseNFDFeatureFile([]byte("# a comment\nvendor.io/flag\n# +no-label\nvendor.io/hidden=1\nvendor.io/shown=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"vendor.io/flag": "true", "vendor.io/shown": "2"}
	if got := liveLabels(parsed, now); !reflect.DeepEqual(got, want) {
		t.Errorf("comments and no-label: %v, want %v", got, want)
	}
	for _, bad := range []string{"# +expiry-time\n", "# +expiry-time=tomorrow\n", "# +frobnicate\n", "nonamespace=1\n", "vendor.io/x=a b\n", strings.Repeat("#", MaxFeatureFileSize+1)} {
		if _, err := parseNFDFeatureFile([]byte(bad)); err == nil {
			t.Errorf("accepted %.40q", bad)
		}
	}
}

func TestFeatureFile(t *testing.T) {
	labels := []Label{
		{LabelPrefix + "gpu.count", "2"}, {LabelPrefix + "gpu.family", "RDNA2"}, {LabelPrefix + "gpu.family.RDNA3.5", "true"},
		{LabelPrefix + "risk", "high"}, {LabelPrefix + "crash.percent", "25"},
	}
	want := map[string]string{}
	for _, l := range labels {
		want[l.Name] = l.Value
	}
	t.Run("no expiry", func(t *testing.T) {
		data, err := FeatureFile(labels, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "expiry") {
			t.Errorf("expiry without being asked:\n%s", data)
		}
		parsed, err := parseNFDFeatureFile(data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		if got := liveLabels(parsed, time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)); !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("expiry covers every label", func(t *testing.T) {
		expiry := time.Date(2025, 3, 1, 10, 30, 0, 999, time.FixedZone("CET", 3600))
		data, err := FeatureFile(labels, expiry)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		if lines[1] != "# +expiry-time=2025-03-01T09:30:00Z" {
			t.Errorf("second line %q", lines[1])
		}
		parsed, err := parseNFDFeatureFile(data)
		if err != nil {
			t.Fatal(err)
		}
		if got := liveLabels(parsed, expiry.Add(-time.Minute)); !reflect.DeepEqual(got, want) {
			t.Errorf("before expiry: %v", got)
		}
		if got := liveLabels(parsed, expiry.Add(time.Second)); len(got) != 0 {
			t.Errorf("after expiry: %v", got)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		for _, bad := range [][]Label{
			{{LabelPrefix + "risk", "very high"}},
			{{LabelPrefix + "risk", "high\nrocm-patch.io/risk=none"}},
			{{LabelPrefix + "ri sk", "high"}},
			{{"rocm-patch.io/x=y", "1"}},
			{{LabelPrefix + "risk", "high"}, {LabelPrefix + "risk", "low"}},
		} {
			if data, err := FeatureFile(bad, time.Time{}); !errors.Is(err, ErrInvalidLabel) {
				t.Errorf("%q: err %v\n%s", bad, err, data)
			}
		}
	})
}

// TestFeatureFileSizeLimit: the file is refused the byte it would pass
// 64 kB, not after NFD has silently ignored it.
func TestFeatureFileSizeLimit(t *testing.T) {
	base, err := FeatureFile(nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// Lines of exactly 64 bytes: "rocm-patch.io/n" + 5 digits + "=" + 42
	// value bytes + "\n".
	line := func(i int) Label {
		return Label{fmt.Sprintf("%sn%05d", LabelPrefix, i), strings.Repeat("v", 42)}
	}
	if l := line(0); len(l.Name)+1+len(l.Value)+1 != 64 {
		t.Fatalf("line of %d bytes", len(l.Name)+len(l.Value)+2)
	}
	n := (MaxFeatureFileSize - len(base)) / 64
	var labels []Label
	for i := 0; i < n; i++ {
		labels = append(labels, line(i))
	}
	data, err := FeatureFile(labels, time.Time{})
	if err != nil || len(data) > MaxFeatureFileSize {
		t.Fatalf("%d bytes: %v", len(data), err)
	}
	if _, err := parseNFDFeatureFile(data); err != nil {
		t.Fatal(err)
	}
	labels = append(labels, line(n))
	if _, err := FeatureFile(labels, time.Time{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := WriteFeatureFile(t.TempDir(), make([]byte, MaxFeatureFileSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("WriteFeatureFile over the limit: %v", err)
	}
}

func TestWriteFeatureFile(t *testing.T) {
	dir := t.TempDir()
	data, err := FeatureFile([]Label{{LabelPrefix + "risk", "high"}}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	path, err := WriteFeatureFile(dir, data)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, FeatureFileName) {
		t.Errorf("path %s", path)
	}
	// A second write replaces the first.
	data2, _ := FeatureFile([]Label{{LabelPrefix + "risk", "low"}}, time.Time{})
	if _, err := WriteFeatureFile(dir, data2); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != string(data2) {
		t.Errorf("read back %q, %v", got, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	assertOnlyFiles(t, dir, FeatureFileName)

	missing := filepath.Join(dir, "no-such-folder")
	if _, err := WriteFeatureFile(missing, data); err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing folder: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Error("the missing folder was created")
	}
	if _, err := WriteFeatureFile(path, data); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a file as the folder: %v", err)
	}
}

// TestWriteFailureLeavesNothing: a folder the writer cannot write to keeps
// its old file and gains no temporary one.
func TestWriteFailureLeavesNothing(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to read-only folders")
	}
	dir := t.TempDir()
	old := []byte("# old\n")
	if err := os.WriteFile(filepath.Join(dir, FeatureFileName), old, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	data, _ := FeatureFile([]Label{{LabelPrefix + "risk", "low"}}, time.Time{})
	if _, err := WriteFeatureFile(dir, data); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("err %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, FeatureFileName)); string(got) != string(old) {
		t.Errorf("old file changed: %q", got)
	}
	assertOnlyFiles(t, dir, FeatureFileName)
}

// assertOnlyFiles fails when dir holds anything but names: a leftover
// temporary file in particular.
func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("folder holds %q, want %q", got, names)
	}
}

// FuzzFeatureFile: whatever name and value it is given, FeatureFile either
// refuses them or writes a file NFD reads back as exactly that one label;
// no value can add a line, a directive or another label.
func FuzzFeatureFile(f *testing.F) {
	for _, seed := range [][2]string{
		{"gpu.family", "RDNA2"}, {"gpu.family.RDNA3.5", "true"}, {"risk", "high\n# +expiry-time=2000-01-01T00:00:00Z"},
		{"x\nrocm-patch.io/risk", "none"}, {"a=b", "c"}, {"crash.percent", ""}, {"n", "25%"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		key := LabelPrefix + name
		data, err := FeatureFile([]Label{{key, value}}, time.Time{})
		if err != nil {
			if !errors.Is(err, ErrInvalidLabel) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		parsed, err := parseNFDFeatureFile(data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		if len(parsed) != 1 || parsed[key].value != value {
			t.Fatalf("read back %v, want %s=%s", parsed, key, value)
		}
	})
}
