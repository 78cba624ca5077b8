package config

import "github.com/seldon-ab/provisioner/internal/iprange"

// namedRange is one pool entry with the key that set it, for error messages.
type namedRange struct {
	key  string
	pool string
	iprange.Range
}
