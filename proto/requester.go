package proto

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
)

var (
	// ErrTimeout means no reply arrived before the deadline. The request
	// may or may not have been carried out.
	ErrTimeout = errors.New("proto: request timed out")
	// ErrUnreachable means the endpoint could not be connected to.
	ErrUnreachable = errors.New("proto: endpoint unreachable")
)

// Requester sends requests to one endpoint and waits for each reply with a
// deadline, as a REQ socket would. zmq4's own REQ has no receive timeout,
// so after a timeout or an error the Requester drops its connection and
// dials a new one for the next request: a late reply can then never be
// taken for the reply to a later request. A connection that the endpoint
// closed while idle is replaced the same way before the next request. It
// is safe for concurrent use; requests are sent one at a time.
type Requester struct {
	endpoint    string
	dialTimeout time.Duration
	key         string // cluster key presented to the endpoint, or ""

	mu      sync.Mutex // serialises requests and guards the fields below
	conn    *Conn
	replies chan [][]byte
	closed  bool
}

// NewRequester returns a Requester for endpoint; it connects lazily.
func NewRequester(endpoint string) *Requester {
	return &Requester{endpoint: endpoint, dialTimeout: 2 * time.Second}
}

// NewKeyedRequester is NewRequester presenting a cluster key, when key is
// set, to a server's server-to-server endpoint.
func NewKeyedRequester(endpoint, key string) *Requester {
	r := NewRequester(endpoint)
	r.key = key
	return r
}

// Endpoint is the address requests go to.
func (r *Requester) Endpoint() string { return r.endpoint }

// Request sends frame and returns the reply's payload. It gives up after
// timeout or when ctx is done, whichever comes first.
func (r *Requester) Request(ctx context.Context, frame []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if r.conn != nil {
		select {
		case <-r.conn.Done():
			// The endpoint closed the connection while it was idle, as a
			// peer that restarted did. This request was not sent on it, so
			// it goes out on a new connection instead of failing.
			r.reset()
		default:
		}
	}
	if r.conn == nil {
		if err := r.connect(ctx); err != nil {
			return nil, err
		}
	}

	conn, replies := r.conn, r.replies
	// A reply that arrived after its request already had one, such as a
	// duplicate from a misbehaving peer, must not be taken for the reply
	// to this request. NOTE: one that arrives after this Send still is,
	// because the frames carry no request id to match.
	select {
	case <-replies:
	default:
	}
	if err := conn.Send([]byte{}, frame); err != nil {
		r.reset()
		return nil, err
	}
	select {
	case reply := <-replies:
		// A REQ-side reply is the empty delimiter, then the payload.
		return reply[len(reply)-1], nil
	case <-conn.Done():
		// The reader hands a reply over before it reads the end of the
		// connection, so a peer that replied and then hung up is not
		// taken for one that hung up without a reply.
		select {
		case reply := <-replies:
			r.reset()
			return reply[len(reply)-1], nil
		default:
		}
		r.reset()
		return nil, fmt.Errorf("proto: %s closed the connection: %w", r.endpoint, ErrClosed)
	case <-ctx.Done():
		r.reset()
		return nil, ErrTimeout
	}
}

func (r *Requester) connect(ctx context.Context) error {
	dialCtx, cancel := context.WithTimeout(ctx, r.dialTimeout)
	defer cancel()
	conn, err := DialKey(dialCtx, r.endpoint, zmq4.Req, r.dialTimeout, r.key)
	if err != nil {
		// A handshake cut by the request's own deadline is a timeout of
		// the request. The handshake's deadline is the context's, and
		// may pass a moment before the context reports it.
		if ctx.Err() != nil || (isHandshakeTimeout(err) && deadlinePassed(ctx)) {
			return ErrTimeout
		}
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	replies := make(chan [][]byte, 1)
	go func() {
		// The reader ends when the connection closes, which reset and
		// Close guarantee.
		for {
			frames, err := conn.Recv()
			if err != nil {
				return
			}
			if len(frames) == 0 {
				continue
			}
			select {
			case replies <- frames:
			default:
				// A reply nobody waits for is stale.
			}
		}
	}()
	r.conn, r.replies = conn, replies
	return nil
}

// isHandshakeTimeout reports whether err is a *HandshakeTimeoutError.
func isHandshakeTimeout(err error) bool {
	var timeout *HandshakeTimeoutError
	return errors.As(err, &timeout)
}

// deadlinePassed reports whether ctx has a deadline that has passed.
func deadlinePassed(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// SetDialTimeout sets how long connecting and the handshake may take, 2 s
// unless set. A request's own timeout still bounds both. Set it before the
// first request.
func (r *Requester) SetDialTimeout(timeout time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dialTimeout = timeout
}

// reset drops the connection so the next request dials afresh.
func (r *Requester) reset() {
	if r.conn != nil {
		r.conn.Close()
		r.conn, r.replies = nil, nil
	}
}

// Close drops the connection; later requests fail with ErrClosed.
func (r *Requester) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reset()
	r.closed = true
}
