package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rocm-patch/rocm-patch/internal/history"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var (
	t0      = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	job     = []string{"python", "train.py", "--epochs", "3"}
	hostile = []string{"python", "-c", "<script>alert('x')</script>", "a|b`c"}
)

// fixtureStats is a history of 14 runs of an RX 6700 XT user: the bare GPU
// crashes half the time, the env layer rarely, env+shim never, the CPU
// never but ten times slower.
func fixtureStats() history.Stats {
	return history.Stats{
		Runs: 14,
		Outcomes: map[history.Outcome]int{
			history.OutcomeOK: 6, history.OutcomeOKAfterRetry: 3, history.OutcomeFallbackCPUOK: 3,
			history.OutcomeFailed: 1, history.OutcomeInterrupted: 1,
		},
		FirstStarted: t0,
		LastStarted:  t0.Add(72 * time.Hour),
		Configs: []history.ConfigStats{
			{Layers: "none", Device: "gpu", Attempts: 10, OK: 4, Crashes: 5, Errors: 1, Interrupted: 1,
				Duration: 50 * time.Minute, CrashDuration: 20 * time.Minute,
				Classes: map[string]int{"gpu-memory-fault": 4, history.Unclassified: 1},
				Throughput: []history.ThroughputStats{
					{Command: job, Dir: "/home/u/eeg", Unit: "it/s", Samples: 6, Sum: 240},
					{Command: hostile, Dir: "/tmp/<dir>", Unit: "it/s", Samples: 1, Sum: 12},
				}},
			{Layers: "env", Device: "gpu", Attempts: 6, OK: 5, Crashes: 1, Duration: 2 * time.Hour, CrashDuration: 5 * time.Minute,
				Classes:    map[string]int{"aperture-violation": 1},
				Throughput: []history.ThroughputStats{{Command: job, Dir: "/home/u/eeg", Unit: "it/s", Samples: 5, Sum: 195}}},
			{Layers: "env+shim", Device: "gpu", Attempts: 5, OK: 5, Duration: 3 * time.Hour, Classes: map[string]int{},
				Throughput: []history.ThroughputStats{{Command: job, Dir: "/home/u/eeg", Unit: "it/s", Samples: 5, Sum: 190}}},
			{Layers: "shim", Device: "gpu", Interrupted: 1, Duration: 30 * time.Second, Classes: map[string]int{}},
			{Layers: "cpu", Device: "cpu", Attempts: 4, OK: 4, Duration: 10 * time.Hour, Classes: map[string]int{},
				Throughput: []history.ThroughputStats{{Command: job, Dir: "/home/u/eeg", Unit: "it/s", Samples: 4, Sum: 16}}},
		},
	}
}

var generated = t0.Add(80 * time.Hour)

func TestBuild(t *testing.T) {
	r := Build(fixtureStats(), generated)
	if r.Schema != "rocm-patch/report/v1" || r.Runs != 14 || !r.LastRun.Equal(t0.Add(72*time.Hour)) {
		t.Errorf("header: %s %d %v", r.Schema, r.Runs, r.LastRun)
	}
	if len(r.Configurations) != 5 {
		t.Fatalf("%d rows", len(r.Configurations))
	}
	type want struct {
		rate, mttf, speedup float64 // -1: null
		jobs                int
	}
	wants := []want{
		{0.5, 600, 10, 1},
		{1.0 / 6, 7200, 9.75, 1},
		{0, -1, 9.5, 1},
		{-1, -1, -1, 0},
		{0, -1, -1, 0},
	}
	opt := func(p *float64) float64 {
		if p == nil {
			return -1
		}
		return *p
	}
	for i, w := range wants {
		row := r.Configurations[i]
		got := want{opt(row.CrashRate), opt(row.MTTFSeconds), opt(row.SpeedupVsCPU), row.SpeedupJobs}
		if math.Abs(got.rate-w.rate) > 1e-12 || math.Abs(got.mttf-w.mttf) > 1e-9 || math.Abs(got.speedup-w.speedup) > 1e-12 || got.jobs != w.jobs {
			t.Errorf("row %d (%s·%s): got %+v, want %+v", i, row.Layers, row.Device, got, w)
		}
		lo, hi := Wilson(row.Crashes, row.Attempts, Z95)
		if row.CI95 != [2]float64{lo, hi} {
			t.Errorf("row %d: CI %v, want [%v %v]", i, row.CI95, lo, hi)
		}
	}
	if c := r.Configurations[0].Classes; len(c) != 2 || c[0] != (ClassCount{"gpu-memory-fault", 4}) {
		t.Errorf("classes not most frequent first: %+v", c)
	}
	if len(r.Jobs) != 2 || r.Jobs[0].Command[2] != hostile[2] || len(r.Jobs[1].Throughput) != 4 {
		t.Errorf("jobs: %+v", r.Jobs)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "no CPU speed") {
		t.Errorf("notes: %q", r.Notes)
	}
}

func TestBuildEmpty(t *testing.T) {
	r := Build(history.Stats{}, generated)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"configurations":[]`, `"jobs":[]`, `"first_run":null`, `"outcomes":{}`} {
		if !bytes.Contains(b, []byte(frag)) {
			t.Errorf("empty report JSON lacks %s: %s", frag, b)
		}
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "empty") {
		t.Errorf("notes: %q", r.Notes)
	}
	for name, write := range writers {
		var buf bytes.Buffer
		if err := write(&buf, r); err != nil || buf.Len() == 0 {
			t.Errorf("%s of an empty report: %v, %d bytes", name, err, buf.Len())
		}
	}
}

var writers = map[string]func(io.Writer, Report) error{
	"json": WriteJSON, "md": WriteMarkdown, "html": WriteHTML, "txt": WriteText,
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update if intended):\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	r := Build(fixtureStats(), generated)
	for name, write := range writers {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := write(&buf, r); err != nil {
				t.Fatal(err)
			}
			golden(t, "report."+name, buf.Bytes())
		})
	}
}

func TestHTMLSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHTML(&buf, Build(fixtureStats(), generated)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"http://", "https://", "src=", "href=", "url(", "@import", "<script", "<link", "<img"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, must := range []string{"<svg", "<rect", "class=\"whisker\"", "<table>", "<style>"} {
		if !strings.Contains(page, must) {
			t.Errorf("page lacks %q", must)
		}
	}
	checkWellFormed(t, page)
}

// checkWellFormed parses the page as XML (it is written as XHTML-style
// HTML5: every element closed, attributes quoted) and fails on anything
// that could load or run something.
func checkWellFormed(t *testing.T, page string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	elements := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("page is not well-formed: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		elements++
		switch strings.ToLower(se.Name.Local) {
		case "script", "img", "iframe", "link", "object", "embed", "image", "use", "foreignobject":
			t.Errorf("page has a <%s> element", se.Name.Local)
		}
		for _, a := range se.Attr {
			name := strings.ToLower(a.Name.Local)
			if name == "src" || name == "href" || strings.HasPrefix(name, "on") {
				t.Errorf("<%s> has attribute %s=%q", se.Name.Local, a.Name.Local, a.Value)
			}
		}
	}
	if elements < 20 {
		t.Errorf("only %d elements parsed", elements)
	}
}

func TestHTMLEscapesHostileHistory(t *testing.T) {
	st := fixtureStats()
	st.Configs[0].Classes = map[string]int{`<img src="https://evil.example/x.png" onerror="alert(1)">`: 2}
	st.Configs[1].Layers = `env"><script>alert(2)</script>`
	var buf bytes.Buffer
	if err := WriteHTML(&buf, Build(st, generated)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	checkWellFormed(t, page)
	if strings.Contains(page, "<script") || strings.Contains(page, "<img") {
		t.Error("a string from the history became markup")
	}
	for _, want := range []string{"&lt;script&gt;alert(", "&lt;/script&gt;", "&lt;img src=", "env&#34;&gt;&lt;script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the escaped %q", want)
		}
	}
}

func TestMarkdownEscapesHostileHistory(t *testing.T) {
	st := fixtureStats()
	st.Configs[0].Classes = map[string]int{"<b>bold</b>|x": 1}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, Build(st, generated)); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	// Code spans show their text as typed; anywhere else a "<" would be
	// HTML to a Markdown renderer.
	if outside := stripCodeSpans(md); strings.Contains(outside, "<") {
		t.Errorf("raw HTML from the history reached the Markdown outside code:\n%s", outside)
	}
	if !strings.Contains(md, "<script>") {
		t.Error("the hostile command is missing from its code span")
	}
	if !strings.Contains(md, `&lt;b&gt;bold&lt;/b&gt;\|x 1`) {
		t.Errorf("class cell not escaped:\n%s", md)
	}
	// Every table row keeps its cell count: no pipe leaked from a value.
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if cells != 10 && cells != 6 {
			t.Errorf("row with %d pipes: %s", cells, line)
		}
	}
}

func TestTextEscapesControlCharacters(t *testing.T) {
	st := fixtureStats()
	st.Configs[0].Layers = "env\x1b[2J"
	var buf bytes.Buffer
	if err := WriteText(&buf, Build(st, generated)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "\x1b") {
		t.Error("an escape sequence from the history reached the terminal")
	}
	if !strings.Contains(buf.String(), `env\x1b[2J`) {
		t.Errorf("escaped layer name missing:\n%s", buf.String())
	}
}

// stripCodeSpans removes CommonMark code spans: a run of n backticks up to
// the next run of exactly n.
func stripCodeSpans(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '`' {
			b.WriteByte(s[i])
			i++
			continue
		}
		n := 0
		for i+n < len(s) && s[i+n] == '`' {
			n++
		}
		end := -1
		for j := i + n; j < len(s); {
			if s[j] != '`' {
				j++
				continue
			}
			m := 0
			for j+m < len(s) && s[j+m] == '`' {
				m++
			}
			if m == n {
				end = j + m
				break
			}
			j += m
		}
		if end < 0 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		i = end
	}
	return b.String()
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	r := Build(fixtureStats(), generated)
	for name, write := range writers {
		if err := write(failWriter{}, r); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s: error %v, want the writer's", name, err)
		}
	}
	if err := WriteHistory(failWriter{}, nil, time.UTC); err == nil {
		t.Error("WriteHistory: no error from a failing writer")
	}
}

func TestWriteHistory(t *testing.T) {
	tp := 40.0
	runs := []history.Run{
		{ID: 2, Command: []string{"python", "train.py", "--name", "my run"}, Started: t0.Add(time.Hour), Finished: t0.Add(time.Hour + 10*time.Minute),
			Outcome: history.OutcomeFallbackCPUOK, Attempts: []history.Attempt{
				{N: 1, Device: "gpu", ExitCode: -1, Signal: "SIGABRT", Class: "gpu-memory-fault"},
				{N: 2, Device: "gpu", Layers: []string{"shim", "env"}, ExitCode: -1, Signal: "SIGSEGV"},
				{N: 3, Device: "cpu", Layers: []string{"cpu"}, Throughput: &tp, ThroughputUnit: "it/s"},
			}},
		{ID: 1, Command: []string{"python", "-c", "import torch"}, Started: t0, Outcome: history.OutcomeRunning},
	}
	var buf bytes.Buffer
	if err := WriteHistory(&buf, runs, time.UTC); err != nil {
		t.Fatal(err)
	}
	want := `ID  STARTED              TOOK    OUTCOME          ATTEMPTS                                                                   COMMAND
2   2025-03-01 10:30:00  10m00s  fallback-cpu-ok  gpu:none crash(gpu-memory-fault), gpu:env+shim crash(SIGSEGV), cpu:cpu ok  python train.py --name 'my run'
1   2025-03-01 09:30:00  —       running          —                                                                          python -c 'import torch'
`
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := WriteHistory(&buf, nil, nil); err != nil || !strings.Contains(buf.String(), "No runs") {
		t.Errorf("empty history: %q, %v", buf.String(), err)
	}
}

func TestChartLabelsFit(t *testing.T) {
	st := fixtureStats()
	st.Configs[0].Layers = "env+shim+hsa-override+no-sdma+xnack-off"
	c := buildChart(Build(st, generated))
	if got := []rune(c.Bars[0].Label); len(got) != chartLabelRunes || got[len(got)-1] != '…' {
		t.Errorf("long label %q not cut to %d runes", c.Bars[0].Label, chartLabelRunes)
	}
	if !strings.Contains(c.Bars[0].Tooltip, st.Configs[0].Layers) {
		t.Errorf("tooltip %q lacks the whole name", c.Bars[0].Tooltip)
	}
	if c.Bars[1].Label != "env · gpu" {
		t.Errorf("short label changed: %q", c.Bars[1].Label)
	}
}
