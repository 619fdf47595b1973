package proto

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// serve runs a listener of type typ on an ephemeral loopback port with
// handle for each connection, and stops it when the test ends.
func serve(t *testing.T, typ zmq4.SocketType, handle func(*Conn)) *Listener {
	t.Helper()
	return serveKeyed(t, typ, "", handle)
}

// serveKeyed is serve for a listener that requires a cluster key, when key
// is set.
func serveKeyed(t *testing.T, typ zmq4.SocketType, key string, handle func(*Conn)) *Listener {
	t.Helper()
	ln, err := Listen("tcp://127.0.0.1:0", typ, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ln.RequireKey(key)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ln.Serve(ctx, handle)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln
}

// echo sends every message of c back until the connection ends.
func echo(c *Conn) {
	for {
		frames, err := c.Recv()
		if err != nil {
			return
		}
		if err := c.Send(frames...); err != nil {
			return
		}
	}
}

// hostPort strips "tcp://" from an endpoint.
func hostPort(endpoint string) string { return strings.TrimPrefix(endpoint, "tcp://") }

// zmtpGreeting is a ZMTP 3.0 greeting with the NULL mechanism.
func zmtpGreeting() []byte {
	g := make([]byte, 64)
	g[0], g[9] = 0xff, 0x7f
	g[10], g[11] = 3, 0
	copy(g[12:], "NULL")
	return g
}

// zmtpCommand frames a ZMTP command.
func zmtpCommand(name string, data []byte) []byte {
	body := append([]byte{byte(len(name))}, name...)
	body = append(body, data...)
	if len(body) > 255 {
		return append(binary.BigEndian.AppendUint64([]byte{flagCommand | flagLong}, uint64(len(body))), body...)
	}
	return append([]byte{flagCommand, byte(len(body))}, body...)
}

// readyCommand is a READY command announcing socket type typ.
func readyCommand(typ zmq4.SocketType) []byte {
	prop := append([]byte{11}, "Socket-Type"...)
	prop = binary.BigEndian.AppendUint32(prop, uint32(len(typ)))
	prop = append(prop, typ...)
	return zmtpCommand("READY", prop)
}

// rawFrame reads one ZMTP frame from r.
func rawFrame(r io.Reader) (flags byte, body []byte, err error) {
	var head [2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	size := uint64(head[1])
	if head[0]&flagLong != 0 {
		var rest [7]byte
		if _, err := io.ReadFull(r, rest[:]); err != nil {
			return 0, nil, err
		}
		size = binary.BigEndian.Uint64(append([]byte{head[1]}, rest[:]...))
	}
	if size > 1<<20 {
		return 0, nil, errors.New("test peer: frame too large")
	}
	body = make([]byte, size)
	_, err = io.ReadFull(r, body)
	return head[0], body, err
}

// rawHandshake connects to endpoint over plain TCP and completes the ZMTP
// handshake by hand as socket type typ, so the test controls every byte
// sent afterwards.
func rawHandshake(t *testing.T, endpoint string, typ zmq4.SocketType) net.Conn {
	t.Helper()
	raw, err := net.DialTimeout("tcp", hostPort(endpoint), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := raw.Write(append(zmtpGreeting(), readyCommand(typ)...)); err != nil {
		t.Fatal(err)
	}
	greeting := make([]byte, 64)
	if _, err := io.ReadFull(raw, greeting); err != nil {
		t.Fatalf("read greeting: %v", err)
	}
	flags, body, err := rawFrame(raw)
	if err != nil || flags&flagCommand == 0 || !bytes.HasPrefix(body, []byte("\x05READY")) {
		t.Fatalf("read READY: flags %#x body %q err %v", flags, body, err)
	}
	_ = raw.SetDeadline(time.Time{})
	return raw
}

// expectClosed fails unless the peer closes raw within timeout. Bytes
// the peer sends before closing are discarded.
func expectClosed(t *testing.T, raw net.Conn, timeout time.Duration) {
	t.Helper()
	_ = raw.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, raw)
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("connection still open after %v", timeout)
	}
}

// recvErrors serves a ROUTER whose handler reports the error that ended
// each connection's receive loop.
func recvErrors(t *testing.T) (*Listener, chan error) {
	errs := make(chan error, 8)
	ln := serve(t, Router, func(c *Conn) {
		for {
			if _, err := c.Recv(); err != nil {
				errs <- err
				return
			}
		}
	})
	return ln, errs
}

func receiveError(t *testing.T, errs chan error, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-errs:
		return err
	case <-time.After(timeout):
		t.Fatalf("no receive error after %v", timeout)
	}
	return nil
}

func TestConnRejectsOversizedFrame(t *testing.T) {
	for _, size := range []uint64{MaxMessageBytes + 1, 1 << 40, 1<<63 + 1, 1<<64 - 1} {
		ln, errs := recvErrors(t)
		raw := rawHandshake(t, ln.Endpoint(), Dealer)

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		header := binary.BigEndian.AppendUint64([]byte{flagLong}, size)
		if _, err := raw.Write(header); err != nil {
			t.Fatal(err)
		}
		if err := receiveError(t, errs, 5*time.Second); !errors.Is(err, ErrMessageTooLarge) {
			t.Errorf("size %d: Recv err = %v, want ErrMessageTooLarge", size, err)
		}
		runtime.ReadMemStats(&after)
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 8<<20 {
			t.Errorf("size %d: rejecting allocated %d bytes", size, grown)
		}
		expectClosed(t, raw, 5*time.Second)
	}
}

func TestConnRejectsOversizedMultipartMessage(t *testing.T) {
	ln, errs := recvErrors(t)
	raw := rawHandshake(t, ln.Endpoint(), Dealer)

	// Two frames that together exceed the limit: the second header is
	// rejected once the first body has arrived.
	half := uint64(MaxMessageBytes / 2)
	go func() {
		_, _ = raw.Write(binary.BigEndian.AppendUint64([]byte{flagLong | flagMore}, half))
		_, _ = raw.Write(make([]byte, half))
		_, _ = raw.Write(binary.BigEndian.AppendUint64([]byte{flagLong}, half))
	}()
	if err := receiveError(t, errs, 20*time.Second); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("Recv err = %v, want ErrMessageTooLarge", err)
	}
}

func TestConnEmptyFrameFloodBounded(t *testing.T) {
	ln, errs := recvErrors(t)
	raw := rawHandshake(t, ln.Endpoint(), Dealer)

	// Empty frames with MORE cost two bytes each on the wire. Without a
	// per-frame charge they would grow the frame list without limit.
	frames := MaxMessageBytes/frameOverhead + 1
	flood := bytes.Repeat([]byte{flagMore, 0}, frames)
	go func() { _, _ = raw.Write(flood) }()
	if err := receiveError(t, errs, 30*time.Second); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("Recv err = %v, want ErrMessageTooLarge", err)
	}
}

func TestConnDeclaredSizeNotPreallocated(t *testing.T) {
	ln, errs := recvErrors(t)
	raw := rawHandshake(t, ln.Endpoint(), Dealer)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	// A legal size, but the peer sends only a little of the body and
	// hangs up.
	header := binary.BigEndian.AppendUint64([]byte{flagLong}, MaxMessageBytes-frameOverhead)
	if _, err := raw.Write(append(header, make([]byte, 1000)...)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if err := receiveError(t, errs, 5*time.Second); err == nil {
		t.Fatal("Recv returned no error")
	}
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 8<<20 {
		t.Errorf("a 1000-byte partial frame cost %d bytes", grown)
	}
}

func TestConnLargeFramesRoundTrip(t *testing.T) {
	ln := startEcho(t)
	conn, err := Dial(context.Background(), ln.Endpoint(), Dealer, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Sizes around the readBody chunk and the short/long frame boundary.
	for _, size := range []int{0, 255, 256, readChunk - 1, readChunk, readChunk + 1, 3*readChunk + 7, MaxFrameBytes} {
		payload := bytes.Repeat([]byte{byte(size)}, size)
		payload = append(payload, 'x')
		if err := conn.Send([]byte{}, payload); err != nil {
			t.Fatal(err)
		}
		frames, err := conn.Recv()
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if len(frames) != 2 || len(frames[0]) != 0 || !bytes.Equal(frames[1], payload) {
			t.Fatalf("size %d: echo of %d frames", size, len(frames))
		}
	}
}

func TestConnSendNoFrames(t *testing.T) {
	ln := startEcho(t)
	conn, err := Dial(context.Background(), ln.Endpoint(), Dealer, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Send(); err == nil {
		t.Error("Send with no frames succeeded")
	}
	conn.Close()
	if err := conn.Send([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: err = %v, want ErrClosed", err)
	}
	if _, err := conn.Recv(); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close: err = %v, want ErrClosed", err)
	}
}

func TestHandshakeGarbageFails(t *testing.T) {
	greeting := zmtpGreeting()
	plain := zmtpGreeting()
	copy(plain[12:], "PLAIN")
	hugeReady := append(zmtpGreeting(), binary.BigEndian.AppendUint64([]byte{flagCommand | flagLong}, 1<<40)...)
	// A READY property whose name length runs past the end of the command.
	badProperty := append(zmtpGreeting(), zmtpCommand("READY", []byte{0x40, 'S', 'o'})...)
	// A property whose value length field is cut short.
	cutProperty := append(zmtpGreeting(), zmtpCommand("READY", []byte{0x01, 'S', 0x00})...)
	manyFrames := append(zmtpGreeting(), bytes.Repeat([]byte{flagMore, 0xff}, 1)...)
	manyFrames = append(manyFrames, make([]byte, 255)...)
	for range 20 {
		manyFrames = append(manyFrames, flagMore, 0xff)
		manyFrames = append(manyFrames, make([]byte, 255)...)
	}

	tests := map[string][]byte{
		"http request":        []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("x", 64)),
		"zeros":               make([]byte, 128),
		"bad version":         append(append([]byte{}, greeting[:10]...), append([]byte{2, 0}, greeting[12:]...)...),
		"PLAIN mechanism":     append(plain, readyCommand(Dealer)...),
		"huge READY":          hugeReady,
		"READY of 5000 bytes": append(zmtpGreeting(), binary.BigEndian.AppendUint64([]byte{flagCommand | flagLong}, 5000)...),
		"bad property":        badProperty,
		"cut property":        cutProperty,
		"frames past budget":  manyFrames,
		"not a command":       append(zmtpGreeting(), 0x00, 0x01, 'x'),
		"PING before READY":   append(zmtpGreeting(), zmtpCommand("PING", []byte{0, 0})...),
		"incompatible type":   append(zmtpGreeting(), readyCommand(Pub)...),
		"empty command":       append(zmtpGreeting(), flagCommand, 0),
	}
	ln := startEcho(t)
	for name, input := range tests {
		t.Run(name, func(t *testing.T) {
			raw, err := net.DialTimeout("tcp", hostPort(ln.Endpoint()), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			_ = raw.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_, _ = raw.Write(input)
			expectClosed(t, raw, 3*time.Second)
		})
	}

	// The listener still serves a proper client.
	r := NewRequester(ln.Endpoint())
	defer r.Close()
	if reply, err := r.Request(context.Background(), []byte("still here"), 2*time.Second); err != nil || string(reply) != "still here" {
		t.Errorf("request after garbage: %q, %v", reply, err)
	}
}

func TestDialHostileServer(t *testing.T) {
	// A server that greets and then declares a huge READY must not crash
	// the client.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		hostile := append(zmtpGreeting(), binary.BigEndian.AppendUint64([]byte{flagCommand | flagLong}, 1<<41)...)
		_, _ = conn.Write(hostile)
		_, _ = io.Copy(io.Discard, conn)
	}()
	if _, err := Dial(context.Background(), "tcp://"+ln.Addr().String(), Dealer, time.Second); err == nil {
		t.Fatal("Dial succeeded against a hostile server")
	}
}

func TestConnAnswersPingWithPong(t *testing.T) {
	ln := startEcho(t)
	raw := rawHandshake(t, ln.Endpoint(), Dealer)
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))

	// PING with a TTL of 10 (tenths of a second) and a context to echo.
	if _, err := raw.Write(zmtpCommand("PING", []byte{0x00, 0x0a, 'c', 't', 'x'})); err != nil {
		t.Fatal(err)
	}
	flags, body, err := rawFrame(raw)
	if err != nil {
		t.Fatal(err)
	}
	if flags != flagCommand || string(body) != "\x04PONGctx" {
		t.Errorf("reply flags %#x body %q, want a PONG command echoing ctx", flags, body)
	}

	// A PING without TTL or context gets a PONG too, and an unknown
	// command is skipped, without ending the connection.
	if _, err := raw.Write(zmtpCommand("PING", nil)); err != nil {
		t.Fatal(err)
	}
	if flags, body, err := rawFrame(raw); err != nil || flags != flagCommand || string(body) != "\x04PONG" {
		t.Errorf("short PING: reply %#x %q %v", flags, body, err)
	}
	if _, err := raw.Write(zmtpCommand("HELLO", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	// Data still flows after the commands: the echo server returns it.
	if _, err := raw.Write([]byte{0x00, 0x02, 'h', 'i'}); err != nil {
		t.Fatal(err)
	}
	if flags, body, err := rawFrame(raw); err != nil || flags != 0 || string(body) != "hi" {
		t.Errorf("echo after commands: %#x %q %v", flags, body, err)
	}
}

func TestConnPingGetsPong(t *testing.T) {
	ln := startEcho(t)
	conn, err := Dial(context.Background(), ln.Endpoint(), Dealer, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		for {
			if _, err := conn.Recv(); err != nil {
				return
			}
		}
	}()
	before := conn.lastRecv.Load()
	if err := conn.Ping(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "a PONG to count as traffic", func() bool {
		return conn.lastRecv.Load() > before
	})
}

// TestConnReadyCountsWholeMessages sends messages and PINGs before the
// other side reads: Ready reports a message read with the first one, and
// not a PING alone, which is no message to wait for.
func TestConnReadyCountsWholeMessages(t *testing.T) {
	start := make(chan struct{})
	results := make(chan string, 8)
	ln := serve(t, Router, func(c *Conn) {
		for range 2 {
			<-start
			for {
				frames, err := c.Recv()
				if err != nil {
					return
				}
				ready := c.Ready()
				results <- fmt.Sprintf("%s %t", frames[len(frames)-1], ready)
				if !ready {
					break
				}
			}
		}
	})
	conn, err := Dial(context.Background(), ln.Endpoint(), Dealer, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// On loopback a write has reached the peer's socket when it returns,
	// so the peer's first read takes all three.
	for _, step := range []func() error{
		func() error { return conn.Send([]byte("one")) },
		conn.Ping,
		func() error { return conn.Send([]byte("two")) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	start <- struct{}{}
	for _, want := range []string{"one true", "two false"} {
		if got := <-results; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}

	if err := conn.Send([]byte("three")); err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(); err != nil {
		t.Fatal(err)
	}
	start <- struct{}{}
	if got := <-results; got != "three false" {
		t.Errorf("got %q, want %q: a PING alone is no message", got, "three false")
	}
}

func TestHeartbeatClosesFrozenPeer(t *testing.T) {
	const interval, timeout = 20 * time.Millisecond, 200 * time.Millisecond
	closed := make(chan time.Duration, 1)
	ln := serve(t, Router, func(c *Conn) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		started := time.Now()
		go func() {
			for {
				if _, err := c.Recv(); err != nil {
					return
				}
			}
		}()
		Heartbeat(ctx, c, interval, timeout)
		closed <- time.Since(started)
	})

	// The frozen peer completes the handshake and then neither reads nor
	// writes, like a process stopped with SIGSTOP.
	frozen := rawHandshake(t, ln.Endpoint(), Dealer)
	select {
	case after := <-closed:
		if after < timeout {
			t.Errorf("closed after %v, before the %v timeout", after, timeout)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("heartbeat did not close a frozen peer")
	}
	expectClosed(t, frozen, 5*time.Second)
}

func TestHeartbeatKeepsLivePeer(t *testing.T) {
	const interval, timeout = 20 * time.Millisecond, 200 * time.Millisecond
	var mu sync.Mutex
	var serverConn *Conn
	ln := serve(t, Router, func(c *Conn) {
		mu.Lock()
		serverConn = c
		mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go Heartbeat(ctx, c, interval, timeout)
		for {
			if _, err := c.Recv(); err != nil {
				return
			}
		}
	})

	// A live peer reads, so it sends a PONG for every PING, but never
	// sends data of its own.
	conn, err := Dial(context.Background(), ln.Endpoint(), Dealer, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		for {
			if _, err := conn.Recv(); err != nil {
				return
			}
		}
	}()
	waitFor(t, 2*time.Second, "the server side of the connection", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return serverConn != nil
	})
	mu.Lock()
	c := serverConn
	mu.Unlock()

	// Waiting is the test here: the connection must outlive several
	// timeouts.
	select {
	case <-c.Done():
		t.Fatal("heartbeat closed a peer that answers PING")
	case <-conn.Done():
		t.Fatal("client connection closed")
	case <-time.After(5 * timeout):
	}
}

func TestListenerCloseStopsServe(t *testing.T) {
	ln, err := Listen("tcp://127.0.0.1:0", Router, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	handlerDone := make(chan struct{})
	served := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- ln.Serve(context.Background(), func(c *Conn) {
			served <- struct{}{}
			defer close(handlerDone)
			for {
				if _, err := c.Recv(); err != nil {
					return
				}
			}
		})
	}()
	conn, err := Dial(context.Background(), ln.Endpoint(), Dealer, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	select {
	case <-served:
	case <-time.After(2 * time.Second):
		t.Fatal("handler did not start")
	}

	ln.Close()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return after Listener.Close")
	}
	select {
	case <-handlerDone:
	default:
		t.Error("Serve returned before its handler")
	}
}

func TestListenEndpoints(t *testing.T) {
	if _, err := Listen("ipc:///tmp/x", Router, nil); err == nil {
		t.Error("ipc endpoint accepted")
	}
	if _, err := Listen("tcp://127.0.0.1", Router, nil); err == nil {
		t.Error("endpoint without port accepted")
	}
	if _, err := Dial(context.Background(), "tcp://*:5555", Dealer, time.Second); err == nil {
		t.Error("Dial to * accepted")
	}
	ln, err := Listen("tcp://*:0", Router, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !strings.HasPrefix(ln.Endpoint(), "tcp://127.0.0.1:") || strings.HasSuffix(ln.Endpoint(), ":0") {
		t.Errorf("Endpoint() = %q, want a connectable loopback endpoint", ln.Endpoint())
	}
	// Logs show the address as bound, every interface.
	if want := "tcp://*:" + strings.TrimPrefix(ln.Endpoint(), "tcp://127.0.0.1:"); ln.Bound() != want {
		t.Errorf("Bound() = %q, want %q", ln.Bound(), want)
	}
}

func TestCheckBindRejectsWhatListenRejects(t *testing.T) {
	invalid := []string{"foo", "ipc:///tmp/x", "tcp://127.0.0.1", "tcp://127.0.0.1:99999", "tcp://127.0.0.1:-1", "tcp://*:nosuchservice"}
	for _, endpoint := range invalid {
		err := CheckBind(endpoint)
		if err == nil {
			t.Errorf("CheckBind(%q) accepted it", endpoint)
			continue
		}
		var addr *net.AddrError
		if !errors.Is(err, ErrNotTCP) && !errors.As(err, &addr) {
			t.Errorf("CheckBind(%q) = %v, want ErrNotTCP or a *net.AddrError", endpoint, err)
		}
		if ln, listenErr := Listen(endpoint, Router, nil); listenErr == nil {
			ln.Close()
			t.Errorf("Listen(%q) accepted what CheckBind rejects", endpoint)
		}
	}
	for _, endpoint := range []string{"tcp://*:0", "tcp://127.0.0.1:0", "tcp://*:25555", "tcp://[::1]:25555"} {
		if err := CheckBind(endpoint); err != nil {
			t.Errorf("CheckBind(%q) = %v, want nil", endpoint, err)
		}
	}
}

// TestRedialAnnouncesNumberedIdentity checks that each connection of
// RedialAs announces the identity with a new number, and a plain Dial
// none.
func TestRedialAnnouncesNumberedIdentity(t *testing.T) {
	ln, err := Listen("tcp://127.0.0.1:0", Router, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	identities := make(chan string, 4)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = ln.Serve(ctx, func(c *Conn) {
			identities <- c.PeerIdentity()
			c.Close() // makes RedialAs dial again
		})
	}()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		<-served
	})

	redialCtx, stopRedial := context.WithCancel(context.Background())
	redialed := make(chan struct{})
	go func() {
		defer close(redialed)
		RedialAs(redialCtx, ln.Endpoint(), Dealer, "", "server-7", testLogger(t), func(ctx context.Context, c *Conn) error {
			_, err := c.Recv()
			return err
		})
	}()
	// The numbers count every RedialAs of the process, so they only grow.
	var last uint64
	for range 2 {
		select {
		case got := <-identities:
			n, err := strconv.ParseUint(strings.TrimPrefix(got, "server-7#"), 10, 64)
			if err != nil || !strings.HasPrefix(got, "server-7#") || n <= last {
				t.Errorf("identity %q, want server-7# and a number above %d", got, last)
			}
			last = n
		case <-time.After(5 * time.Second):
			t.Fatal("no connection announcing server-7")
		}
	}
	stopRedial()
	<-redialed

	conn, err := Dial(context.Background(), ln.Endpoint(), Dealer, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for {
		select {
		case got := <-identities:
			if strings.HasPrefix(got, "server-7#") {
				continue // a redial made before the stop
			}
			if got != "" {
				t.Errorf("plain Dial announced identity %q", got)
			}
			return
		case <-time.After(5 * time.Second):
			t.Fatal("no connection from Dial")
		}
	}
}
