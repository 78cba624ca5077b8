package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// scripts/verify.sh hands the verifyArgs stack output over as a file: its arguments arrive unchanged, whatever
// they hold, and flags after it come last (so they win).
func TestArgsFileArrivesAsItWasExported(t *testing.T) {
	stored := []string{"verify", "--url", "http://192.168.1.249", "--input-name", "it's $(x) `y`", "--requests", "94"}
	path := filepath.Join(t.TempDir(), "args.json")
	data, _ := json.Marshal(stored)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := expandArgsFile([]string{"--args-json", path, "--requests", "1000"})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{}, stored[1:]...), "--requests", "1000")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := os.WriteFile(path, []byte(`["seed"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := expandArgsFile([]string{"--args-json", path}); err == nil {
		t.Error("a file that is not the verifyArgs output was accepted")
	}
}
