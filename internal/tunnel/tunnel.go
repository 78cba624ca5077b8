// Package tunnel dials through an HTTP proxy's CONNECT method: a connection to the very address asked for, the
// request inside it untouched. A plain HTTP proxy request would name the Host header's virtual host instead of
// the address (Go writes r.Host into the absolute request URI), and the address is what the verifier is judging.
// The proxy's refusals come back as the dial errors a direct connection would give.
package tunnel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Dialer returns a DialContext for http.Transport that reaches every address through proxy's CONNECT.
func Dialer(proxy *url.URL) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", proxy.Host)
		if err != nil {
			return nil, fmt.Errorf("the proxy %s: %w", proxy.Host, err)
		}
		if deadline, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(deadline)
		}
		req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{}}
		if err := req.Write(conn); err != nil {
			conn.Close()
			return nil, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), req)
		if err != nil {
			conn.Close()
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			conn.Close()
			return nil, refusal(network, addr, strings.TrimSpace(string(body)))
		}
		_ = conn.SetDeadline(time.Time{})
		return conn, nil
	}
}

// refusal turns the proxy's reason into the error a direct dial would have given: a refused connection, or a
// timeout for an address nothing answers.
func refusal(network, addr, reason string) error {
	op := &net.OpError{Op: "dial", Net: network, Addr: stringAddr(addr)}
	switch {
	case strings.Contains(reason, "connection refused"):
		op.Err = fmt.Errorf("%w (%s)", syscall.ECONNREFUSED, reason)
	case strings.Contains(reason, "i/o timeout"):
		op.Err = timeout(reason)
	default:
		op.Err = errors.New(reason)
	}
	return op
}

type timeout string

func (t timeout) Error() string   { return string(t) }
func (t timeout) Timeout() bool   { return true }
func (t timeout) Temporary() bool { return true }

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }
