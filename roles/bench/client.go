package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"msgsys/lang"
	"msgsys/proto"
)

// errRejected is wrapped by errors for replies whose status is a failure.
var errRejected = errors.New("bench: request rejected")

// client is one simulated client: a REQ connection to the broker's
// frontend and the clocks that stamp its requests. It reads each reply in
// the caller's goroutine under a read deadline, because proto.Requester's
// hand-over from a reader goroutine cost CPU that the measured processes
// share on two cores.
type client struct {
	frontend string
	conn     *proto.Conn // nil until the first request and after a failure
	clocks   proto.Clocks
}

func newClient(frontend string, clocks proto.Clocks) *client {
	return &client{frontend: frontend, clocks: clocks}
}

func (c *client) close() { c.reset() }

func (c *client) reset() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// request sends frame and returns the reply's payload, within timeout and
// while ctx lasts. After a failure the next request dials again, so a
// late reply is never taken for a later request's.
func (c *client) request(ctx context.Context, frame []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if c.conn == nil {
		conn, err := proto.Dial(ctx, c.frontend, proto.Req, timeout)
		if err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				return nil, proto.ErrTimeout
			}
			return nil, fmt.Errorf("%w: %w", proto.ErrUnreachable, err)
		}
		c.conn = conn
	}

	// The deadline also ends the wait when ctx is cancelled early.
	deadline, _ := ctx.Deadline()
	conn := c.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	if err := conn.SetReadDeadline(deadline); err != nil {
		c.reset()
		return nil, err
	}
	if err := conn.Send([]byte{}, frame); err != nil {
		c.reset()
		return nil, err
	}
	frames, err := conn.Recv()
	if err != nil {
		c.reset()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, proto.ErrTimeout
		}
		return nil, err
	}
	// A REQ-side reply is the empty delimiter, then the payload.
	return frames[len(frames)-1], nil
}

// replyHead is the part of a reply the bench checks. Decoding into it
// skips the other keys, so the client spends as little CPU per reply as
// it can while still reading every reply.
type replyHead struct {
	Status      string `msgpack:"status"`
	Message     string `msgpack:"message"`
	Description string `msgpack:"description"`
	Clock       uint64 `msgpack:"clock"`
}

// call sends a prepared frame and checks the reply: it must decode, repeat
// the service, and carry a success status unless the service has none
// (users, channels). An echo of the request, as the baseline returns, also
// passes, because a request has no status.
func (c *client) call(ctx context.Context, service string, frame []byte, timeout time.Duration) error {
	payload, err := c.request(ctx, frame, timeout)
	if err != nil {
		return err
	}
	var head replyHead // DecodeInto reads the envelope and fills head from its data
	got, err := proto.DecodeInto(payload, &head)
	if err != nil {
		return fmt.Errorf("bench: invalid %s reply: %w", service, err)
	}
	c.clocks.Lamport.Witness(head.Clock)
	if got != service {
		return fmt.Errorf("%w: %s reply has service %q", errRejected, service, got)
	}
	if head.Status != "" && !proto.IsSuccess(head.Status) {
		return fmt.Errorf("%w: %s: %s", errRejected, service, head.reason())
	}
	return nil
}

// reason returns the failure reason of a reply. The broker's own errors
// carry the same text in both fields, so it appears once.
func (h replyHead) reason() string {
	switch {
	case h.Description == "" || h.Description == h.Message:
		return h.Message
	case h.Message == "":
		return h.Description
	default:
		return h.Description + "; " + h.Message
	}
}

// send encodes data, a pointer to a proto message struct, and calls
// service with it.
func (c *client) send(ctx context.Context, service string, data any, timeout time.Duration) error {
	frame, err := proto.Encode(service, data, requestMeta(c.clocks))
	if err != nil {
		return err
	}
	return c.call(ctx, service, frame, timeout)
}

// requestMeta returns the metadata of a client request. It names English
// as the language of error descriptions, which msgsys servers and brokers
// then use whatever their --lang, because bench prints the descriptions
// in its English output.
func requestMeta(clocks proto.Clocks) proto.Meta {
	meta := clocks.Meta()
	meta.Lang = lang.EN
	return meta
}

func (c *client) login(ctx context.Context, user string, timeout time.Duration) error {
	return c.send(ctx, proto.ServiceLogin, &proto.LoginRequest{User: user, ID: requestID()}, timeout)
}

// createChannel creates a channel, retrying while an election leaves the
// cluster without a coordinator to decide the name. A channel that
// already exists counts as created.
func (c *client) createChannel(ctx context.Context, name string, timeout time.Duration) error {
	var err error
	for range 20 {
		err = c.send(ctx, proto.ServiceChannel, &proto.ChannelRequest{Channel: name, ID: requestID()}, timeout)
		if err == nil || !errors.Is(err, errRejected) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return err
}

// requestID returns a fresh id for a write, as msgsys clients send, so
// that a retried write is applied once.
func requestID() string {
	return strconv.FormatUint(rand.Uint64(), 36)
}
