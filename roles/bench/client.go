package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"msgsys/proto"
)

// errRejected is wrapped by errors for replies whose status is a failure.
var errRejected = errors.New("bench: request rejected")

// client is one simulated client: a REQ-like connection to the broker's
// frontend and the clocks that stamp its requests.
type client struct {
	requester *proto.Requester
	clocks    proto.Clocks
}

func newClient(frontend string, clocks proto.Clocks) *client {
	return &client{requester: proto.NewRequester(frontend), clocks: clocks}
}

func (c *client) close() { c.requester.Close() }

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
	payload, err := c.requester.Request(ctx, frame, timeout)
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
		return fmt.Errorf("%w: %s: %s%s", errRejected, service, head.Description, head.Message)
	}
	return nil
}

// send encodes data, a pointer to a proto message struct, and calls
// service with it.
func (c *client) send(ctx context.Context, service string, data any, timeout time.Duration) error {
	frame, err := proto.Encode(service, data, c.clocks.Meta())
	if err != nil {
		return err
	}
	return c.call(ctx, service, frame, timeout)
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
