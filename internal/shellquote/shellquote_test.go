package shellquote_test

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/seldon-ab/provisioner/internal/shellquote"
)

// The shell reads a joined line back into exactly the arguments it was built from, hostile ones included.
func TestTheShellReadsBackEveryArgument(t *testing.T) {
	argv := []string{"plain", "with space", `$(touch /tmp/pwned)`, "`id`", "it's", `"double"`, "back\\slash",
		"new\nline", "$HOME", "*", "", "a;b|c&d", "-x"}
	out, err := exec.Command("sh", "-c", "set -- "+shellquote.Join(argv...)+`; for a in "$@"; do printf '%s\0' "$a"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !reflect.DeepEqual(got, argv) {
		t.Errorf("the shell read back\n%q\nfrom\n%q", got, argv)
	}
}
