package lifecycle

import (
	"runtime/debug"
	"testing"
)

// The collector's settings go to the CLI and its plugins and apply here, except where the user set them.
func TestTheCollectorSettingsYieldToTheUsers(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	env := collectLessOften()
	if env["GOGC"] != "400" || env["GOMEMLIMIT"] != "1073741824" {
		t.Errorf("with nothing set, the CLI gets %v", env)
	}
	if percent := debug.SetGCPercent(100); percent != gcPercent {
		t.Errorf("this process collects at GOGC=%d", percent)
	}

	t.Setenv("GOGC", "150")
	debug.SetMemoryLimit(1 << 40)
	env = collectLessOften()
	if _, set := env["GOGC"]; set || env["GOMEMLIMIT"] != "1073741824" {
		t.Errorf("with the user's GOGC, the CLI gets %v", env)
	}
	if percent := debug.SetGCPercent(100); percent != 100 {
		t.Errorf("the user's GOGC was overridden here: GOGC=%d", percent)
	}
}
