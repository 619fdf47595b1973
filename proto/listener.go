package proto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// Listener accepts ZMTP connections for one bound socket.
type Listener struct {
	ln      net.Listener
	typ     zmq4.SocketType
	log     *slog.Logger
	wg      sync.WaitGroup
	mu      sync.Mutex // guards conns and stopped
	conns   map[*Conn]struct{}
	stopped bool // Serve no longer accepts and has closed conns

	key    string  // cluster key every connection must present, or ""
	failed RateLog // handshakes that failed
	// keyFailed is when a handshake last failed over the cluster key, in
	// Unix nanoseconds, 0 if never.
	keyFailed atomic.Int64

	handshakes chan struct{} // a slot for each handshake in progress
	rejected   RateLog       // connections closed because every slot was taken
}

// maxHandshakes bounds the handshakes in progress on one listener. A peer
// that opens connections without finishing their handshakes holds each
// for HandshakeTimeout, and a breaker's flood of them took a server from
// 25 to 224 MB. A full listener closes new connections at once; handshakes
// of real peers take milliseconds, so they find a slot.
const maxHandshakes = 1024

// RequireKey makes the listener accept only connections that present key
// with the PLAIN mechanism. Call it before Serve.
func (l *Listener) RequireKey(key string) { l.key = key }

// KeyFailedSince reports whether a handshake failed after t because the
// cluster key was missing, unexpected or wrong.
func (l *Listener) KeyFailedSince(t time.Time) bool {
	return l.keyFailed.Load() > t.UnixNano()
}

// Listen binds endpoint ("tcp://*:5555", "tcp://127.0.0.1:0") for sockets
// of type typ.
func Listen(endpoint string, typ zmq4.SocketType, log *slog.Logger) (*Listener, error) {
	addr, err := tcpAddress(endpoint, true)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proto: bind %s: %w", endpoint, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{ln: ln, typ: typ, log: log, conns: make(map[*Conn]struct{}), handshakes: make(chan struct{}, maxHandshakes)}, nil
}

// CheckBind rejects, without binding, an endpoint that Listen would
// reject for its form, so that a role can fail before it opens anything
// else. The endpoint must be tcp://HOST:PORT, with a port from 0 to 65535
// or a service name that the system resolves. The error wraps ErrNotTCP or a
// *net.AddrError. CheckBind resolves no host, so Listen may still fail on
// a host that no interface has.
func CheckBind(endpoint string) error {
	addr, err := tcpAddress(endpoint, true)
	if err != nil {
		return err
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("proto: endpoint %q: %w", endpoint, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		var addrErr *net.AddrError
		if !errors.As(err, &addrErr) {
			// An unknown service name is a *net.DNSError.
			addrErr = &net.AddrError{Err: "unknown port", Addr: port}
		}
		return fmt.Errorf("proto: endpoint %q: %w", endpoint, addrErr)
	}
	return nil
}

// Endpoint is the bound address as a connectable endpoint, with the port
// the system chose when the requested one was 0.
func (l *Listener) Endpoint() string { return l.address("127.0.0.1") }

// Bound is the address the listener is bound to, in ZeroMQ's notation:
// "*" stands for every interface. Logs show it, because Endpoint names
// 127.0.0.1 for a listener bound to every interface.
func (l *Listener) Bound() string { return l.address("*") }

// address renders the bound address as a tcp endpoint, with unspecified
// in place of an address that stands for every interface.
func (l *Listener) address(unspecified string) string {
	addr := l.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = unspecified
	}
	return "tcp://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// Serve accepts connections until ctx is done, performs each handshake in
// its own goroutine, and runs handle for each connection. When handle
// returns, the connection is closed. Serve closes every connection and
// waits for every handler before it returns.
func (l *Listener) Serve(ctx context.Context, handle func(*Conn)) error {
	stop := context.AfterFunc(ctx, func() { l.ln.Close() })
	defer stop()

	var failures int
	for {
		raw, err := l.ln.Accept()
		if err != nil {
			// Listener.Close, or ctx through AfterFunc, closed ln.
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			// Out of file descriptors and similar: wait a little rather
			// than spin, as net/http does.
			failures++
			l.log.Warn("accept failed", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(min(time.Duration(failures)*10*time.Millisecond, time.Second)):
			}
			continue
		}
		failures = 0
		select {
		case l.handshakes <- struct{}{}:
		default:
			l.rejected.Warn(l.log, "connection closed, too many handshakes in progress", "peer", raw.RemoteAddr().String(), "limit", maxHandshakes)
			raw.Close()
			continue
		}
		if tcp, ok := raw.(*net.TCPConn); ok {
			_ = tcp.SetNoDelay(true)
		}
		l.wg.Add(1)
		go l.serveConn(ctx, raw, handle)
	}

	l.mu.Lock()
	l.stopped = true
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return nil
}

func (l *Listener) serveConn(ctx context.Context, raw net.Conn, handle func(*Conn)) {
	defer l.wg.Done()
	conn, err := open(raw, l.typ, true, time.Now().Add(HandshakeTimeout), HandshakeTimeout, l.key, "")
	<-l.handshakes
	if err != nil {
		if errors.Is(err, ErrKeyMismatch) || errors.Is(err, ErrBadKey) {
			l.keyFailed.Store(time.Now().UnixNano())
		}
		if errors.Is(err, ErrClosedEarly) {
			// A port probe or health check, not a failed peer.
			l.log.Debug("connection closed before the handshake", "peer", raw.RemoteAddr().String())
		} else {
			l.failed.Warn(l.log, "handshake failed", "peer", raw.RemoteAddr().String(), "err", err)
		}
		raw.Close()
		return
	}

	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		conn.Close()
		return
	}
	l.conns[conn] = struct{}{}
	l.mu.Unlock()

	defer func() {
		l.mu.Lock()
		delete(l.conns, conn)
		l.mu.Unlock()
		conn.Close()
	}()
	handle(conn)
}

// Close stops accepting, and Serve then closes every connection and
// returns as if its context were done; the context is the usual way to stop.
func (l *Listener) Close() error { return l.ln.Close() }
