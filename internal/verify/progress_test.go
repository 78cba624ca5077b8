package verify

import (
	"bytes"
	"strings"
	"testing"
)

// Progress in a pipe is a plain line every so often; on a terminal one line is redrawn, with the running split in
// demo mode.
func TestProgressIsPlainLinesOffATerminalAndLiveOnOne(t *testing.T) {
	candidates := []Candidate{{Name: "baseline-predictor", Weight: 70}, {Name: "enhanced-predictor", Weight: 30}}
	var plain, live bytes.Buffer
	pipe := newProgressPrinter(&plain, false, "", candidates, true)
	tty := newProgressPrinter(&live, true, "", candidates, true)
	for i := 1; i <= 100; i++ {
		s := Progress{Done: i, Total: 100, Served: []int{i * 7 / 10, i - i*7/10}}
		pipe.update(s)
		tty.update(s)
	}
	pipe.finish()
	tty.finish()
	if lines := strings.Count(plain.String(), "\n"); lines > 3 || strings.Contains(plain.String(), "\r") {
		t.Errorf("off a terminal, %d lines (or a redraw):\n%q", lines, plain.String())
	}
	if !strings.Contains(plain.String(), "100/100 calls") || !strings.Contains(plain.String(), "baseline-predictor 70.0%") {
		t.Errorf("the last line lacks the count or the split: %q", plain.String())
	}
	if !strings.Contains(live.String(), "\r\033[K[") || !strings.Contains(live.String(), "enhanced-predictor 30.0%") {
		t.Errorf("on a terminal, no live line with the split: %q", live.String())
	}
}
