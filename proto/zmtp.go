package proto

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
)

// ZeroMQ socket types, as a peer announces them in the ZMTP handshake.
const (
	Req    = zmq4.Req
	Rep    = zmq4.Rep
	Dealer = zmq4.Dealer
	Router = zmq4.Router
	Pub    = zmq4.Pub
	Sub    = zmq4.Sub
	XPub   = zmq4.XPub
	XSub   = zmq4.XSub
)

// Transport limits.
const (
	// MaxMessageBytes bounds one ZeroMQ message, all frames together,
	// each frame counted as its body plus frameOverhead bytes. It is
	// above MaxFrameBytes so that an oversized request still arrives whole
	// and gets an error reply instead of a dropped connection.
	MaxMessageBytes = 64 << 20
	// maxHandshakeBytes bounds what a peer may send before its handshake
	// completes: a greeting and a READY command with a few properties.
	maxHandshakeBytes = 4096
	// frameOverhead is what readMessage charges per frame against
	// MaxMessageBytes on top of its body: about the memory a frame costs
	// besides its bytes.
	frameOverhead = 32
	// readChunk is the step in which readBody grows a large frame body.
	readChunk = 64 << 10
	// HandshakeTimeout bounds the ZMTP greeting and handshake.
	HandshakeTimeout = 5 * time.Second
	// SendTimeout bounds one write to a peer. A peer that does not drain
	// its socket for this long is disconnected rather than allowed to
	// block the sender.
	SendTimeout = 10 * time.Second
)

// ZMTP 3.0 frame flags.
const (
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04
)

var (
	// ErrClosed is returned by a Conn after Close or a transport failure.
	ErrClosed = errors.New("proto: connection closed")
	// ErrMessageTooLarge is returned when a peer sends more than
	// MaxMessageBytes in one message. The connection is then closed,
	// unless Recv read past the message (see SkipOversized).
	ErrMessageTooLarge = errors.New("proto: message exceeds the transport limit")
	// ErrNotTCP is wrapped in the error for an endpoint that does not
	// start with tcp://, such as ipc:///tmp/x or a bare host:port.
	ErrNotTCP       = errors.New("only tcp:// is supported")
	errEmptyMessage = errors.New("proto: a message needs at least one frame")
	errSelfConnect  = errors.New("connected to itself: nothing listens there")
)

// Conn is one ZMTP 3.0 connection. zmq4 performs the greeting and the
// handshake; Conn then frames messages itself, because zmq4 writes each
// frame with two unsynchronised system calls, replies to PING from its
// reader without locking, and allocates a frame of any size the peer
// declares. Send is safe for concurrent use; Recv belongs to one reader.
type Conn struct {
	raw          net.Conn
	reader       *bufio.Reader
	peerType     zmq4.SocketType
	peerIdentity string // the Identity property of the peer's handshake
	// skipOversized makes Recv read past a message above MaxMessageBytes
	// instead of closing the connection (see SkipOversized).
	skipOversized bool

	sendMu sync.Mutex // guards writer and the ordering of frames
	writer *bufio.Writer

	lastRecv  atomic.Int64 // Unix nanoseconds of the last bytes received
	closeOnce sync.Once
	closed    chan struct{}
}

// PeerType is the socket type the peer announced.
func (c *Conn) PeerType() zmq4.SocketType { return c.peerType }

// PeerIdentity is the identity the peer announced in its handshake, empty
// when it announced none. msgsys servers announce their name. It is the
// peer's own word, for logs only, and may be any bytes.
func (c *Conn) PeerIdentity() string { return c.peerIdentity }

// RemoteAddr is the peer's network address, for logs.
func (c *Conn) RemoteAddr() string { return c.raw.RemoteAddr().String() }

// Done is closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.closed }

// Close closes the connection; it is safe to call more than once.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		_ = c.raw.Close()
	})
	return nil
}

// Send writes one message. An empty frame is allowed; a message with no
// frames is not. A failed or timed-out write closes the connection, since
// the stream may hold half a frame.
func (c *Conn) Send(frames ...[]byte) error {
	if len(frames) == 0 {
		return errEmptyMessage
	}
	return c.SendBatch([][][]byte{frames})
}

// SendBatch writes several messages with one flush, so a writer that
// drains a backlog pays one system call for all of it instead of one per
// message. It fails like Send, and a message with no frames is an error.
func (c *Conn) SendBatch(messages [][][]byte) error {
	for _, frames := range messages {
		if len(frames) == 0 {
			return errEmptyMessage
		}
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()

	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	_ = c.raw.SetWriteDeadline(time.Now().Add(SendTimeout))
	for _, frames := range messages {
		for i, frame := range frames {
			var flags byte
			if i < len(frames)-1 {
				flags = flagMore
			}
			c.writeFrame(flags, frame)
		}
	}
	if err := c.writer.Flush(); err != nil {
		c.Close()
		return fmt.Errorf("proto: send to %s: %w", c.RemoteAddr(), err)
	}
	return nil
}

// writeFrame buffers one frame; errors surface at Flush.
func (c *Conn) writeFrame(flags byte, body []byte) {
	if len(body) > 255 {
		var header [9]byte
		header[0] = flags | flagLong
		binary.BigEndian.PutUint64(header[1:], uint64(len(body)))
		c.writer.Write(header[:])
	} else {
		c.writer.Write([]byte{flags, byte(len(body))})
	}
	c.writer.Write(body)
}

// sendCommand writes a ZMTP command such as PONG.
func (c *Conn) sendCommand(name string, data []byte) error {
	body := make([]byte, 0, 1+len(name)+len(data))
	body = append(body, byte(len(name)))
	body = append(body, name...)
	body = append(body, data...)

	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	_ = c.raw.SetWriteDeadline(time.Now().Add(SendTimeout))
	c.writeFrame(flagCommand, body)
	if err := c.writer.Flush(); err != nil {
		c.Close()
		return err
	}
	return nil
}

// Ping sends a ZMTP PING. A libzmq or msgsys peer replies PONG, which
// Recv swallows but counts as traffic for Idle.
func (c *Conn) Ping() error {
	return c.sendCommand("PING", []byte{0, 0})
}

// SetReadDeadline makes Recv fail once t has passed, which closes the
// connection: a caller that owns the connection's reads can then wait
// for a reply with a deadline without a reader goroutine.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// Ready reports whether the read buffer holds a whole message, so that the
// next Recv returns it without waiting for the network. Commands before
// it, such as PING, do not count as a message.
func (c *Conn) Ready() bool {
	buf, _ := c.reader.Peek(c.reader.Buffered())
	for len(buf) > 0 {
		flags := buf[0]
		var size uint64
		switch {
		case flags&flagLong != 0 && len(buf) >= 9:
			size, buf = binary.BigEndian.Uint64(buf[1:9]), buf[9:]
		case flags&flagLong == 0 && len(buf) >= 2:
			size, buf = uint64(buf[1]), buf[2:]
		default:
			return false
		}
		if size > uint64(len(buf)) {
			return false
		}
		buf = buf[size:]
		if flags&(flagCommand|flagMore) == 0 {
			return true
		}
	}
	return false
}

// Idle is how long ago the last bytes arrived from the peer.
func (c *Conn) Idle() time.Duration {
	return time.Since(time.Unix(0, c.lastRecv.Load()))
}

// Recv reads the next message. It replies to PING with PONG and skips every
// other command, because libzmq peers with ZMQ_HEARTBEAT_IVL send them and
// they are not data. It returns ErrClosed once the connection is gone. A
// message above MaxMessageBytes closes the connection, unless
// SkipOversized was called: Recv then returns a *MessageTooLargeError
// and the connection stays open.
func (c *Conn) Recv() ([][]byte, error) {
	for {
		frames, command, err := c.readMessage()
		var tooLarge *MessageTooLargeError
		if errors.As(err, &tooLarge) {
			c.lastRecv.Store(time.Now().UnixNano())
			return nil, err
		}
		if err != nil {
			c.Close()
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil, ErrClosed
			}
			return nil, err
		}
		c.lastRecv.Store(time.Now().UnixNano())
		if !command {
			return frames, nil
		}
		if name, data, ok := parseCommand(frames[0]); ok && name == "PING" {
			// The PING's context (after a 2-byte TTL) is echoed back.
			var context []byte
			if len(data) > 2 {
				context = data[2:]
			}
			if err := c.sendCommand("PONG", context); err != nil {
				return nil, err
			}
		}
	}
}

func parseCommand(body []byte) (string, []byte, bool) {
	if len(body) == 0 || int(body[0]) > len(body)-1 {
		return "", nil, false
	}
	n := int(body[0])
	return string(body[1 : 1+n]), body[1+n:], true
}

// readMessage reads frames until one without the MORE flag. A command is
// always a single frame.
func (c *Conn) readMessage() (frames [][]byte, command bool, err error) {
	total := 0
	for {
		flags, size, err := c.readHeader()
		if err != nil {
			return nil, false, err
		}
		// Each frame is charged frameOverhead besides its body, so a flood
		// of empty frames with the MORE flag is bounded too.
		if size > MaxMessageBytes || total+int(size)+frameOverhead > MaxMessageBytes {
			if !c.skipOversized || flags&flagCommand != 0 {
				return nil, false, ErrMessageTooLarge
			}
			return nil, false, c.skipMessage(frames, flags, size)
		}
		total += int(size) + frameOverhead

		body, err := c.readBody(int(size))
		if err != nil {
			return nil, false, err
		}
		if flags&flagCommand != 0 {
			return [][]byte{body}, true, nil
		}
		frames = append(frames, body)
		if flags&flagMore == 0 {
			return frames, false, nil
		}
	}
}

// readHeader reads a frame header: the flags and the body's size.
func (c *Conn) readHeader() (flags byte, size uint64, err error) {
	flags, err = c.reader.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	if flags&flagLong != 0 {
		var header [8]byte
		if _, err := io.ReadFull(c.reader, header[:]); err != nil {
			return 0, 0, err
		}
		return flags, binary.BigEndian.Uint64(header[:]), nil
	}
	b, err := c.reader.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	return flags, uint64(b), nil
}

// readBody reads a frame body of size bytes. Large bodies grow with the
// bytes that arrive instead of being allocated from the declared size, so
// a peer that declares MaxMessageBytes and sends nothing costs little.
func (c *Conn) readBody(size int) ([]byte, error) {
	if size <= readChunk {
		body := make([]byte, size)
		_, err := io.ReadFull(c.reader, body)
		return body, err
	}
	body := make([]byte, 0, readChunk)
	for len(body) < size {
		n := min(size-len(body), readChunk)
		body = slices.Grow(body, n)
		if _, err := io.ReadFull(c.reader, body[len(body):len(body)+n]); err != nil {
			return nil, err
		}
		body = body[:len(body)+n]
	}
	return body, nil
}

// greetingBytes is the size of a ZMTP 3.x greeting, which zmq4 reads whole
// before the first frame.
const greetingBytes = 64

// firstBytes is how many of a peer's first bytes a handshake keeps: the
// greeting up to the end of its mechanism name. A failed handshake quotes
// the first quotedBytes of them.
const (
	firstBytes  = 32
	quotedBytes = 8
)

// greetingMechanism returns the security mechanism a ZMTP 3.x greeting
// names, such as "NULL" or "PLAIN", or "" while first is shorter than the
// greeting's mechanism field. Byte 10 is the major version, and a ZMTP
// 1.0 or 2.0 peer has no mechanism field: its bytes 12 to 31 are frames.
func greetingMechanism(first []byte) string {
	if len(first) < firstBytes || first[0] != 0xff || first[10] < 3 {
		return ""
	}
	return strings.TrimRight(string(first[12:32]), "\x00")
}

// closedByPeer reports whether err is the peer closing or resetting the
// connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// signatureOnly reports whether first is a ZMTP signature (0xFF, eight
// bytes, 0x7F) and at most the major version byte after it.
func signatureOnly(first []byte) bool {
	return (len(first) == 10 || len(first) == 11) && first[0] == 0xff && first[9] == 0x7f
}

// ErrClosedEarly is a handshake that failed because the peer closed the
// connection before it sent a byte, as port probes and health checks do.
var ErrClosedEarly = errors.New("proto: the peer closed the connection before the handshake")

// HandshakeTimeoutError is a ZMTP handshake that did not finish within
// Limit, as with a peer that accepts TCP connections but is stopped
// (SIGSTOP) or does not speak ZMTP.
type HandshakeTimeoutError struct {
	Limit time.Duration // the time the handshake had, rounded to milliseconds
}

func (e *HandshakeTimeoutError) Error() string {
	return fmt.Sprintf("proto: handshake timed out after %v", e.Limit)
}

// errNotZMTP is a handshake with a peer whose first byte is not the 0xFF
// that starts every ZMTP 3.x greeting.
var errNotZMTP = errors.New("proto: the peer does not speak ZMTP")

// handshakeError turns zmq4's chain of wrapped handshake errors into the
// cause a reader can act on, given the first bytes the peer sent, the
// mechanism this side uses and the time the handshake had.
func handshakeError(err error, first []byte, mechanism string, limit time.Duration) error {
	peer := greetingMechanism(first)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &HandshakeTimeoutError{Limit: limit}
	case len(first) == 0 && errors.Is(err, io.EOF):
		// NOTE: a libzmq peer that reads this side's greeting before it
		// has sent its own closes without a byte sent when the mechanisms
		// differ, which looks the same as a port probe.
		return ErrClosedEarly
	case len(first) > 0 && first[0] != 0xff:
		return fmt.Errorf("%w: its first bytes were %q", errNotZMTP, first[:min(len(first), quotedBytes)])
	case (peer == "NULL" || peer == "PLAIN") && peer != mechanism:
		return fmt.Errorf("%w: the peer uses %s and this endpoint %s", ErrKeyMismatch, peer, mechanism)
	case peer != "" && peer != mechanism:
		return fmt.Errorf("proto: the peer uses the %s security mechanism, and msgsys supports only PLAIN, with a cluster key, and NULL", peer)
	case errors.Is(err, syscall.ECONNRESET):
		// A reset comes from a peer that closed with this side's greeting
		// unread, or with SO_LINGER 0, as a crashed or killed client
		// does, and it discards the bytes not yet read. libzmq reads the
		// greeting before it closes on a mechanism other than its own,
		// so it closes with a FIN (libzmq 4.3.4, checked with pyzmq), and
		// no mechanism is blamed here.
		return errors.New("proto: the peer reset the connection during the handshake")
	case closedByPeer(err) && signatureOnly(first):
		// libzmq sends its signature, reads this side's greeting and,
		// when the mechanism there is not its own, closes. A peer that
		// stops there for another reason looks the same.
		return fmt.Errorf("proto: the peer closed the connection during the handshake, right after its ZMTP signature, as libzmq does when this endpoint's security mechanism, %s, is not its own", mechanism)
	case closedByPeer(err):
		return errors.New("proto: the peer closed the connection during the handshake")
	}
	if err := keyError(err); errors.Is(err, ErrBadKey) || errors.Is(err, ErrKeyMismatch) {
		return err
	}

	// zmq4 wraps the cause in one "could not" error per step of its
	// handshake, and only the cause names what went wrong.
	for {
		inner := errors.Unwrap(err)
		if inner == nil || !strings.Contains(err.Error(), "could not") {
			return err
		}
		err = inner
	}
}

// handshakeConn limits what zmq4 may read during the handshake. zmq4
// allocates each frame from the size its header declares before reading
// the body, so a declared size of a terabyte ends the process with a fatal
// out-of-memory error that recover cannot catch. handshakeConn therefore
// follows the frame headers in the stream and fails the read that would
// hand zmq4 a size above the handshake budget.
type handshakeConn struct {
	net.Conn
	first    []byte // the peer's first bytes, to name what it speaks
	left     int    // bytes the peer may still send
	greeting int    // greeting bytes not yet passed on
	header   []byte // the current frame header, as far as it has arrived
	body     uint64 // bytes of the current frame body not yet passed on
}

func (h *handshakeConn) Read(p []byte) (int, error) {
	if h.left <= 0 {
		return 0, ErrMessageTooLarge
	}
	if len(p) > h.left {
		p = p[:h.left]
	}
	n, err := h.Conn.Read(p)
	if len(h.first) < firstBytes {
		h.first = append(h.first, p[:min(n, firstBytes-len(h.first))]...)
	}
	if safe, ok := h.track(p[:n]); !ok {
		h.left = 0
		return safe, ErrMessageTooLarge
	}
	h.left -= n
	return n, err
}

// track follows the greeting and frame headers through b. It returns
// false and the number of bytes before the last byte of a header that
// declares a frame larger than maxHandshakeBytes.
func (h *handshakeConn) track(b []byte) (int, bool) {
	for i := 0; i < len(b); {
		switch {
		case h.greeting > 0:
			skip := min(h.greeting, len(b)-i)
			h.greeting -= skip
			i += skip
		case h.body > 0:
			skip := min(h.body, uint64(len(b)-i))
			h.body -= skip
			i += int(skip)
		default:
			h.header = append(h.header, b[i])
			want := 2
			if h.header[0]&flagLong != 0 {
				want = 9
			}
			if len(h.header) == want {
				size := uint64(h.header[1])
				if want == 9 {
					size = binary.BigEndian.Uint64(h.header[1:])
				}
				if size > maxHandshakeBytes {
					return i, false
				}
				h.body = size
				h.header = h.header[:0]
			}
			i++
		}
	}
	return len(b), true
}

// open performs the ZMTP handshake on raw as socket type typ, with the
// PLAIN mechanism and key when key is set (see security), announcing
// identity when it is not empty. A timeout error names limit.
func open(raw net.Conn, typ zmq4.SocketType, server bool, deadline time.Time, limit time.Duration, key, identity string) (conn *Conn, err error) {
	// zmq4 may panic on a malformed handshake; handshakeConn keeps the
	// declared sizes it allocates from small.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("proto: handshake with %s failed: %v", raw.RemoteAddr(), r)
		}
	}()

	limit = limit.Round(time.Millisecond)
	_ = raw.SetDeadline(deadline)
	guard := &handshakeConn{Conn: raw, left: maxHandshakeBytes, greeting: greetingBytes}
	var id zmq4.SocketIdentity
	if identity != "" {
		id = zmq4.SocketIdentity(identity)
	}
	zc, err := zmq4.Open(guard, security(key, server), typ, id, server, nil)
	if err != nil {
		mechanism := "NULL"
		if key != "" {
			mechanism = "PLAIN"
		}
		return nil, fmt.Errorf("proto: handshake with %s: %w", raw.RemoteAddr(), handshakeError(err, guard.first, mechanism, limit))
	}
	_ = raw.SetDeadline(time.Time{})

	conn = &Conn{
		raw:          raw,
		reader:       bufio.NewReaderSize(raw, 64<<10),
		writer:       bufio.NewWriterSize(raw, 64<<10),
		peerType:     zmq4.SocketType(zc.Peer.Meta["Socket-Type"]),
		peerIdentity: zc.Peer.Meta["Identity"],
		closed:       make(chan struct{}),
	}
	conn.lastRecv.Store(time.Now().UnixNano())
	return conn, nil
}

// Dial connects to endpoint ("tcp://host:port") as a socket of type typ
// and completes the handshake within timeout.
func Dial(ctx context.Context, endpoint string, typ zmq4.SocketType, timeout time.Duration) (*Conn, error) {
	return DialKey(ctx, endpoint, typ, timeout, "")
}

// DialKey is Dial presenting a cluster key, when key is set, to a server's
// server-to-server endpoint.
func DialKey(ctx context.Context, endpoint string, typ zmq4.SocketType, timeout time.Duration, key string) (*Conn, error) {
	return DialAs(ctx, endpoint, typ, timeout, key, "")
}

// DialAs is DialKey announcing identity in the handshake, so that the peer
// can name this process in its logs.
func DialAs(ctx context.Context, endpoint string, typ zmq4.SocketType, timeout time.Duration, key, identity string) (*Conn, error) {
	addr, err := tcpAddress(endpoint, false)
	if err != nil {
		return nil, err
	}
	// A handshake that times out is reported with the time that the
	// connection and the handshake had together, as the caller set it.
	budget := timeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < budget {
		budget = time.Until(d)
	}
	dialer := net.Dialer{Timeout: timeout}
	raw, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proto: dial %s: %w", endpoint, err)
	}
	// Dialing a free port of the local ephemeral range can connect the
	// socket to itself, and the socket then holds the port that the peer
	// will bind when it restarts.
	if raw.LocalAddr().String() == raw.RemoteAddr().String() {
		raw.Close()
		return nil, fmt.Errorf("proto: dial %s: %w", endpoint, errSelfConnect)
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetNoDelay(true)
	}
	// A peer that accepts TCP but is frozen (SIGSTOP) never completes the
	// handshake, so the handshake shares the caller's deadline.
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn, err := open(raw, typ, false, deadline, budget, key, identity)
	if err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

// tcpAddress turns a ZeroMQ endpoint into a host:port for the net
// package. "*" means every interface and is only valid for binding.
func tcpAddress(endpoint string, bind bool) (string, error) {
	rest, ok := strings.CutPrefix(endpoint, "tcp://")
	if !ok {
		return "", fmt.Errorf("proto: endpoint %q: %w", endpoint, ErrNotTCP)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return "", fmt.Errorf("proto: endpoint %q: %w", endpoint, err)
	}
	if host == "*" {
		if !bind {
			return "", fmt.Errorf("proto: endpoint %q: cannot connect to *, name a host", endpoint)
		}
		host = ""
	}
	return net.JoinHostPort(host, port), nil
}
