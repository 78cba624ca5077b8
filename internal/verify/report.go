package verify

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
)

// Suite is one verification of a stack: a report per experiment, or one for the Models called by name.
type Suite struct {
	Passed  bool     `json:"passed"`
	Reports []Report `json:"reports"`
}

// NewSuite gathers reports: it passes when every one does.
func NewSuite(reports ...Report) Suite {
	s := Suite{Passed: len(reports) > 0, Reports: reports}
	for _, r := range reports {
		s.Passed = s.Passed && r.Passed
	}
	return s
}

// Verdict is PASSED or FAILED.
func (s Suite) Verdict() string { return Report{Passed: s.Passed}.Verdict() }

// Summary is every report's summary, then the tally.
func (s Suite) Summary() string {
	var b strings.Builder
	for _, r := range s.Reports {
		b.WriteString(r.Summary())
	}
	return b.String() + s.Tally()
}

// Tally is, with several reports, a last line that counts them; empty with one.
func (s Suite) Tally() string {
	if len(s.Reports) < 2 {
		return ""
	}
	failed := 0
	for _, r := range s.Reports {
		if !r.Passed {
			failed++
		}
	}
	return fmt.Sprintf("\nverification of %d experiments: %s (%d failed)\n", len(s.Reports), s.Verdict(), failed)
}

// Findings are every report's findings.
func (s Suite) Findings() []Finding {
	var all []Finding
	for _, r := range s.Reports {
		all = append(all, r.Findings...)
	}
	return all
}

// WriteJSON writes the machine-readable suite.
func (s Suite) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteSVG draws each report's picture, one under the other.
func (s Suite) WriteSVG(w io.Writer) error {
	width, total := 0, 0
	for _, r := range s.Reports {
		rw, rh, _ := r.svgSize()
		width, total = max(width, rw), total+rh
	}
	if _, err := fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d">`, width, total); err != nil {
		return err
	}
	y := 0
	for _, r := range s.Reports {
		if err := r.writeSVG(w, y); err != nil {
			return err
		}
		_, rh, _ := r.svgSize()
		y += rh
	}
	_, err := io.WriteString(w, `</svg>`)
	return err
}

// Summary is the human report.
func (r Report) Summary() string {
	var b strings.Builder
	if r.Experiment == "" {
		fmt.Fprintf(&b, "verification of the Models, no experiment: %s (%.1f s)\n", r.Verdict(), r.DurationSec)
	} else {
		fmt.Fprintf(&b, "A/B verification of %s: %s (%d of %d requests, %d errors, %.1f s)\n", r.Experiment, r.Verdict(),
			r.Requests, r.Planned, r.Errors, r.DurationSec)
	}
	for _, p := range append(append([]Probe{}, r.Health...), r.Direct...) {
		mark := "ok  "
		if !p.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %-40s HTTP %d  %.1f ms\n", mark, p.Name, p.Status, p.Duration)
	}
	if r.SettleNote != "" {
		b.WriteString("  " + r.SettleNote + "\n")
	}
	if len(r.Candidates) > 0 {
		fmt.Fprintf(&b, "  %-24s %7s %9s %15s %9s %9s %9s %9s %11s\n", "candidate", "count", "share", "interval", "expected", "p50 ms", "p95 ms", "p99 ms", "p95 budget")
		for _, c := range r.Candidates {
			interval := "-"
			if r.Split != nil {
				interval = fmt.Sprintf("%.1f–%.1f%%", c.ShareLow*100, c.ShareHigh*100)
			}
			fmt.Fprintf(&b, "  %-24s %7d %8.1f%% %15s %8.1f%% %9.1f %9.1f %9.1f %11.1f\n", c.Name, c.Count, c.Share*100, interval,
				c.Expected*100, c.P50, c.P95, c.P99, c.BudgetP95)
		}
		b.WriteString("  " + r.SplitSentence() + "\n")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n[%s] %s: %s\n  cause: %s\n  fix:   %s\n  seen:  %s, on %s\n", f.Severity, f.Layer, f.Problem, f.Cause, f.Fix,
			f.Evidence, strings.Join(f.Calls, ", "))
	}
	return b.String()
}

// Verdict is PASSED or FAILED.
func (r Report) Verdict() string {
	if r.Passed {
		return "PASSED"
	}
	return "FAILED"
}

// SplitSentence says what the split test found, and on a pass what it rules out.
func (r Report) SplitSentence() string {
	t := r.Split
	if t == nil {
		return "split test: " + r.SplitNote
	}
	answers := fmt.Sprintf("%d answers", t.Answered)
	if t.Looks > 1 {
		answers += " in two looks, the first unclear"
	}
	if t.Passed {
		return fmt.Sprintf("split test: every share lies within its weight ± %.0f points (%.0f%% intervals, %s): "+
			"a drift of %.0f points or more is ruled out (it would pass at most %.2g of the time)",
			t.Tolerance*100, t.Confidence*100, answers, t.Tolerance*100, t.Significance)
	}
	return fmt.Sprintf("split test: FAILED at ± %.0f points (%.0f%% intervals, %s)", t.Tolerance*100, t.Confidence*100, answers)
}

// The report picture's label column, plot width, value column and row height.
const svgLeft, svgPlot, svgLabels, svgRowHeight = 190, 420, 300, 34

// svgSize is the picture's width and height, and its header's lines.
func (r Report) svgSize() (width, height int, header []string) {
	width = svgLeft + svgPlot + svgLabels
	header = wrap(r.SplitSentence(), (width-32)/7)
	return width, 120 + 16*len(header) + 2*svgRowHeight*max(len(r.Candidates), 1) + 60, header
}

// writeSVG draws the verdict, each candidate's share with its interval against the configured weight and the
// tolerance band, and its latency percentiles against its p95 budget, at height y0 of the suite's picture. Labels
// sit in a column of their own, so nothing is cut at the edge.
func (r Report) writeSVG(w io.Writer, y0 int) error {
	const left, plot, rowHeight = svgLeft, svgPlot, svgRowHeight
	width, height, header := r.svgSize()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" y="%d" width="%d" height="%d" font-family="sans-serif" font-size="13">`, y0, width, height)
	color := "#2e7d32"
	if !r.Passed {
		color = "#c62828"
	}
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="16" y="26" font-size="16" font-weight="bold" fill="%s">%s — %s</text>`,
		color, html.EscapeString(r.Experiment), r.Verdict())
	fmt.Fprintf(&b, `<text x="16" y="46">%d of %d requests, %d errors (%.1f%%), %.1f s</text>`, r.Requests, r.Planned, r.Errors,
		r.ErrorRate*100, r.DurationSec)
	y := 46
	for _, line := range header {
		y += 16
		fmt.Fprintf(&b, `<text x="16" y="%d">%s</text>`, y, html.EscapeString(line))
	}
	y += 26
	fmt.Fprintf(&b, `<text x="16" y="%d" font-weight="bold">Share of answers (bar, interval) against the weight (red line) ± tolerance (band)</text>`, y)
	y += 12
	tolerance := 0.0
	if r.Split != nil {
		tolerance = r.Split.Tolerance
	}
	at := func(share float64) float64 { return float64(left) + share*float64(plot) }
	for _, c := range r.Candidates {
		fmt.Fprintf(&b, `<text x="16" y="%d">%s</text>`, y+18, html.EscapeString(c.Name))
		if tolerance > 0 {
			lo, hi := max(c.Expected-tolerance, 0), min(c.Expected+tolerance, 1)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="30" fill="#fde0dd"/>`, at(lo), y, at(hi)-at(lo))
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="22" fill="#4e79a7"/>`, left, y+4, c.Share*float64(plot))
		if r.Split != nil {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="2"/>`, at(c.ShareLow), y+15, at(c.ShareHigh), y+15)
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e15759" stroke-width="3"/>`, at(c.Expected), y, at(c.Expected), y+30)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%.1f%% (%d) vs %.0f%%</text>`, left+plot+12, y+20, c.Share*100, c.Count, c.Expected*100)
		y += rowHeight
	}
	y += 16
	fmt.Fprintf(&b, `<text x="16" y="%d" font-weight="bold">Latency: p50 / p95 / p99 (ms) against the p95 budget (red line)</text>`, y)
	y += 12
	longest := 1.0
	for _, c := range r.Candidates {
		longest = max(longest, c.P99, c.BudgetP95)
	}
	for _, c := range r.Candidates {
		fmt.Fprintf(&b, `<text x="16" y="%d">%s</text>`, y+18, html.EscapeString(c.Name))
		for i, v := range []float64{c.P99, c.P95, c.P50} {
			colors := []string{"#f28e2b", "#edc948", "#59a14f"}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="22" fill="%s"/>`, left, y+4, v/longest*float64(plot), colors[i])
		}
		if c.BudgetP95 > 0 {
			x := float64(left) + c.BudgetP95/longest*float64(plot)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e15759" stroke-width="3"/>`, x, y, x, y+30)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%.1f / %.1f / %.1f (budget %.0f)</text>`, left+plot+12, y+20, c.P50, c.P95, c.P99, c.BudgetP95)
		y += rowHeight
	}
	b.WriteString(`</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}

// wrap breaks text into lines of at most width characters, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}
