package report

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"sync"
)

// The page is one file that works offline and from a mail attachment:
// inline CSS, the chart as inline SVG, no script, no font, no image, no
// link to anything. html/template escapes every string from the history
// (commands, classes, layer names) in its context.
// It is parsed on first use, not at start-up: only report --html needs it.
var pageTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Parse(pageSource))
})

const pageSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>rocm-patch report</title>
<style>
body { font-family: system-ui, sans-serif; color: #1d1d1f; margin: 2rem auto; max-width: 64rem; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.5rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #d8d8dc; text-align: right; vertical-align: top; }
th { background: #f2f2f5; }
.l { text-align: left; }
code { font-size: 0.9em; }
.note { background: #fff8e1; padding: 0.5rem 0.8rem; border-left: 4px solid #f0b400; }
.method { color: #555; font-size: 0.9rem; }
svg text { font-family: system-ui, sans-serif; font-size: 12px; fill: #1d1d1f; }
svg .grid { stroke: #e2e2e6; }
svg .axis { stroke: #888; }
svg .bar-gpu { fill: #c0392b; }
svg .bar-cpu { fill: #2e86c1; }
svg .whisker { stroke: #1d1d1f; stroke-width: 1.5; }
</style>
</head>
<body>
<h1>rocm-patch report</h1>
<p>{{.Summary}}. Generated {{.Generated}}.</p>
{{- range .Report.Notes}}
<p class="note">{{.}}</p>
{{- end}}
{{- if .Rows}}
<h2>Crash rate by configuration</h2>
<svg role="img" aria-label="Crash rate by configuration, with 95% intervals" width="{{.Chart.Width}}" height="{{.Chart.Height}}" viewBox="0 0 {{.Chart.Width}} {{.Chart.Height}}">
{{- range .Chart.Ticks}}
<line class="grid" x1="{{.X}}" y1="{{$.Chart.Top}}" x2="{{.X}}" y2="{{$.Chart.AxisY}}"/>
<text x="{{.X}}" y="{{$.Chart.TickLabelY}}" text-anchor="middle">{{.Label}}</text>
{{- end}}
<line class="axis" x1="{{.Chart.X0}}" y1="{{.Chart.Top}}" x2="{{.Chart.X0}}" y2="{{.Chart.AxisY}}"/>
{{- range .Chart.Bars}}
<g>
<title>{{.Tooltip}}</title>
<text x="{{$.Chart.LabelX}}" y="{{.TextY}}" text-anchor="end">{{.Label}}</text>
{{- if .HasRate}}
<rect class="{{.Class}}" x="{{$.Chart.X0}}" y="{{.BarY}}" width="{{.BarW}}" height="{{$.Chart.BarH}}"/>
<line class="whisker" x1="{{.LoX}}" y1="{{.MidY}}" x2="{{.HiX}}" y2="{{.MidY}}"/>
<line class="whisker" x1="{{.LoX}}" y1="{{.CapTop}}" x2="{{.LoX}}" y2="{{.CapBottom}}"/>
<line class="whisker" x1="{{.HiX}}" y1="{{.CapTop}}" x2="{{.HiX}}" y2="{{.CapBottom}}"/>
{{- end}}
<text x="{{.ValueX}}" y="{{.TextY}}">{{.Value}}</text>
</g>
{{- end}}
</svg>
<table>
<thead><tr><th class="l">layers</th><th class="l">device</th><th>attempts</th><th>crashes</th><th>crash rate</th><th>95% CI</th><th>MTTF</th><th>speedup vs CPU</th><th class="l">crash classes</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td class="l">{{.Layers}}</td><td class="l">{{.Device}}</td><td>{{.Attempts}}</td><td>{{.Crashes}}</td><td>{{.Rate}}</td><td>{{.CI}}</td><td>{{.MTTF}}</td><td>{{.Speedup}}</td><td class="l">{{.Classes}}</td></tr>
{{- end}}
</tbody>
</table>
{{- end}}
{{- if .Jobs}}
<h2>Speeds reported</h2>
<table>
<thead><tr><th class="l">command</th><th class="l">folder</th><th class="l">configuration</th><th>samples</th><th>mean</th></tr></thead>
<tbody>
{{- range .Jobs}}
<tr><td class="l"><code>{{.Command}}</code></td><td class="l"><code>{{.Dir}}</code></td><td class="l">{{.Config}}</td><td>{{.Samples}}</td><td>{{.Mean}}</td></tr>
{{- end}}
</tbody>
</table>
{{- end}}
<h2>How these numbers are computed</h2>
<ul class="method">
{{- range .Method}}
<li>{{.}}</li>
{{- end}}
</ul>
</body>
</html>
`

// Chart geometry, in SVG user units.
const (
	chartWidth  = 760
	chartLabelW = 210 // configuration names, right-aligned before the plot
	chartPlotW  = 440 // 0% to 100%
	chartRowH   = 30
	chartBarH   = 16
	chartTop    = 10
	chartAxisH  = 28 // below the bars: tick labels
	chartCapH   = 10 // whisker end caps
	// chartLabelRunes is about what fits in chartLabelW at 12px; longer
	// names are cut, and the bar's tooltip has them whole.
	chartLabelRunes = 30
)

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

type pageView struct {
	Report    Report
	Summary   string
	Generated string
	Rows      []rowView
	Jobs      []jobView
	Chart     chartView
	Method    []string
}

type rowView struct {
	Layers, Device, Rate, CI, MTTF, Speedup, Classes string
	Attempts, Crashes                                int
}

type jobView struct {
	Command, Dir, Config, Mean string
	Samples                    int
}

type chartView struct {
	Width, Height, Top, AxisY, TickLabelY, BarH int
	X0, LabelX                                  int
	Ticks                                       []tickView
	Bars                                        []barView
}

type tickView struct {
	X     string
	Label string
}

type barView struct {
	Label, Tooltip, Value, Class         string
	HasRate                              bool
	TextY, BarY, MidY, CapTop, CapBottom int
	BarW, LoX, HiX, ValueX               string
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func buildChart(r Report) chartView {
	n := len(r.Configurations)
	c := chartView{
		Width: chartWidth, Top: chartTop, BarH: chartBarH,
		X0: chartLabelW, LabelX: chartLabelW - 8,
	}
	c.AxisY = chartTop + n*chartRowH
	c.TickLabelY = c.AxisY + 16
	c.Height = c.AxisY + chartAxisH
	x := func(frac float64) float64 { return float64(chartLabelW) + frac*chartPlotW }
	for _, p := range []float64{0, 0.25, 0.5, 0.75, 1} {
		c.Ticks = append(c.Ticks, tickView{X: num(x(p)), Label: strconv.Itoa(int(p*100)) + "%"})
	}
	for i, row := range r.Configurations {
		top := chartTop + i*chartRowH + (chartRowH-chartBarH)/2
		name := configName(row.Layers, row.Device)
		b := barView{
			Label:     shorten(name, chartLabelRunes),
			TextY:     top + chartBarH - 3,
			BarY:      top,
			MidY:      top + chartBarH/2,
			CapTop:    top + chartBarH/2 - chartCapH/2,
			CapBottom: top + chartBarH/2 + chartCapH/2,
			Class:     "bar-gpu",
			Value:     "no attempt ran to an end",
			ValueX:    num(x(0) + 6),
		}
		if row.Device == "cpu" {
			b.Class = "bar-cpu"
		}
		if row.CrashRate != nil {
			b.HasRate = true
			b.BarW = num(*row.CrashRate * chartPlotW)
			b.LoX, b.HiX = num(x(row.CI95[0])), num(x(row.CI95[1]))
			b.Value = fmt.Sprintf("%s (%d/%d)", pct(*row.CrashRate), row.Crashes, row.Attempts)
			b.ValueX = num(x(row.CI95[1]) + 6)
		}
		b.Tooltip = name + ": no attempt ran to an end"
		if b.HasRate {
			b.Tooltip = fmt.Sprintf("%s: %s crashed, 95%% CI %s", name, b.Value, ciText(row))
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// WriteHTML writes r as one self-contained HTML page: the table, the
// speeds, and a bar chart of crash rates with their 95% intervals as
// whiskers, in inline SVG.
func WriteHTML(w io.Writer, r Report) error {
	v := pageView{
		Report:    r,
		Summary:   summaryLine(r),
		Generated: timeText(&r.Generated),
		Chart:     buildChart(r),
		Method:    Method,
	}
	for _, row := range r.Configurations {
		v.Rows = append(v.Rows, rowView{
			Layers: row.Layers, Device: row.Device, Attempts: row.Attempts, Crashes: row.Crashes,
			Rate: rateText(row), CI: ciText(row), MTTF: mttfText(row), Speedup: speedupText(row), Classes: classesText(row),
		})
	}
	for _, j := range r.Jobs {
		for _, m := range j.Throughput {
			v.Jobs = append(v.Jobs, jobView{
				Command: shellQuote(j.Command), Dir: j.Dir, Config: configName(m.Layers, m.Device),
				Samples: m.Samples, Mean: speedText(m.Mean) + " " + j.Unit,
			})
		}
	}
	bw := bufio.NewWriter(w)
	if err := pageTemplate().Execute(bw, v); err != nil {
		return fmt.Errorf("write report HTML: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report HTML: %w", err)
	}
	return nil
}
