// Package exitcode carries a command's exit code other than 1 up to main (doctor's severities, usage errors).
package exitcode

// Error ends the process with Code, printing Err when it is set.
type Error struct {
	Code int
	Err  error
}

func (e Error) Error() string {
	if e.Err == nil {
		return "exit status"
	}
	return e.Err.Error()
}

func (e Error) Unwrap() error { return e.Err }
