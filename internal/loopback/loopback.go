// Package loopback hands out loopback ports for the local processes the sandbox and its tests run.
package loopback

import "net"

// FreePort asks the kernel for a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
