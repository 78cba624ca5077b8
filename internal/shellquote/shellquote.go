// Package shellquote writes argument vectors as POSIX shell command lines that the shell reads back word for word,
// whatever the arguments hold ($, backticks, quotes, newlines): the pulumi-command resources run their command
// lines through sh.
package shellquote

import "strings"

// Quote returns s as one shell word: single-quoted, each single quote inside closed, escaped with a backslash
// and reopened.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each argument and joins them with spaces.
func Join(argv ...string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = Quote(a)
	}
	return strings.Join(quoted, " ")
}
