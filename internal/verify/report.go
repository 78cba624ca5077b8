package verify

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
)

// Summary is the human report.
func (r Report) Summary() string {
	var b strings.Builder
	verdict := "PASSED"
	if !r.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "A/B verification of %s: %s (%d requests, %d errors, %.1f s)\n", r.Experiment, verdict, r.Requests, r.Errors, r.DurationSec)
	for _, p := range append(append([]Probe{}, r.Health...), r.Direct...) {
		mark := "ok  "
		if !p.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %-40s HTTP %d  %.1f ms\n", mark, p.Name, p.Status, p.Duration)
	}
	if len(r.Candidates) > 0 {
		fmt.Fprintf(&b, "  %-24s %7s %9s %9s %9s %9s %9s\n", "candidate", "count", "share", "expected", "p50 ms", "p95 ms", "p99 ms")
		for _, c := range r.Candidates {
			fmt.Fprintf(&b, "  %-24s %7d %8.1f%% %8.1f%% %9.1f %9.1f %9.1f\n", c.Name, c.Count, c.Share*100, c.Expected*100, c.P50, c.P95, c.P99)
		}
		if r.Requests > r.Errors {
			fmt.Fprintf(&b, "  split test: chi-square %.2f, p = %.3g (fails below %.2g)\n", r.ChiSquare, r.PValue, r.Significance)
		} else {
			b.WriteString("  split test: not run, no experiment call was answered\n")
		}
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n[%s] %s\n  cause: %s\n  fix:   %s\n  seen:  %s, on %s\n", f.Layer, f.Problem, f.Cause, f.Fix, f.Evidence, strings.Join(f.Calls, ", "))
	}
	return b.String()
}

// WriteJSON writes the machine-readable report.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteSVG draws requests per candidate against the configured split, and latency percentiles per candidate.
func (r Report) WriteSVG(w io.Writer) error {
	const width, rowHeight, left = 760, 34, 190
	height := 110 + 2*rowHeight*max(len(r.Candidates), 1) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="13">`, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="16" y="26" font-size="16" font-weight="bold">%s: %d requests, split p = %.3g</text>`,
		html.EscapeString(r.Experiment), r.Requests, r.PValue)
	y := 52
	fmt.Fprintf(&b, `<text x="16" y="%d" font-weight="bold">Share of answers (bar) against the configured weight (line)</text>`, y)
	y += 12
	scale := float64(width - left - 90)
	for _, c := range r.Candidates {
		fmt.Fprintf(&b, `<text x="16" y="%d">%s</text>`, y+18, html.EscapeString(c.Name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="22" fill="#4e79a7"/>`, left, y+4, c.Share*scale)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e15759" stroke-width="3"/>`,
			float64(left)+c.Expected*scale, y, float64(left)+c.Expected*scale, y+30)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.1f%% (%d) vs %.0f%%</text>`, float64(left)+max(c.Share, c.Expected)*scale+8, y+20, c.Share*100, c.Count, c.Expected*100)
		y += rowHeight
	}
	y += 16
	fmt.Fprintf(&b, `<text x="16" y="%d" font-weight="bold">Latency per candidate: p50 / p95 / p99 (ms)</text>`, y)
	y += 12
	longest := 1.0
	for _, c := range r.Candidates {
		longest = max(longest, c.P99)
	}
	for _, c := range r.Candidates {
		fmt.Fprintf(&b, `<text x="16" y="%d">%s</text>`, y+18, html.EscapeString(c.Name))
		for i, v := range []float64{c.P99, c.P95, c.P50} {
			colors := []string{"#f28e2b", "#edc948", "#59a14f"}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="22" fill="%s"/>`, left, y+4, v/longest*scale, colors[i])
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.1f / %.1f / %.1f</text>`, float64(left)+scale+8, y+20, c.P50, c.P95, c.P99)
		y += rowHeight
	}
	b.WriteString(`</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}
