package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"msgsys/proto"
	"msgsys/roles/server"
)

// Server-to-server service that returns a server.StatusReply; msgsys
// status requests it the same way.
const serviceStatus = "status"

// Readiness timings.
const (
	readyTimeout  = 30 * time.Second
	readyPoll     = 50 * time.Millisecond
	statusTimeout = 500 * time.Millisecond
)

// statusPoller requests servers' status on their server-to-server
// endpoints. It keeps one connection per server, so polling every few
// milliseconds costs no handshakes.
type statusPoller struct {
	clocks     proto.Clocks
	clusterKey string // presented to every server, empty for none

	mu         sync.Mutex // guards requesters
	requesters map[string]*proto.Requester
}

func newStatusPoller(clocks proto.Clocks, clusterKey string) *statusPoller {
	return &statusPoller{clocks: clocks, clusterKey: clusterKey, requesters: make(map[string]*proto.Requester)}
}

func (p *statusPoller) requester(addr string) *proto.Requester {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.requesters[addr]
	if !ok {
		r = proto.NewKeyedRequester(addr, p.clusterKey)
		p.requesters[addr] = r
	}
	return r
}

// status requests one server's status.
func (p *statusPoller) status(ctx context.Context, addr string, timeout time.Duration) (*server.StatusReply, error) {
	frame, err := proto.Encode(serviceStatus, &proto.EmptyRequest{}, p.clocks.Meta())
	if err != nil {
		return nil, err
	}
	payload, err := p.requester(addr).Request(ctx, frame, timeout)
	if err != nil {
		return nil, err
	}
	reply := new(server.StatusReply)
	service, err := proto.DecodeInto(payload, reply)
	if err != nil {
		return nil, fmt.Errorf("bench: invalid status reply from %s: %w", addr, err)
	}
	p.clocks.Lamport.Witness(reply.Clock)
	if service != serviceStatus || reply.Status == proto.StatusError {
		return nil, fmt.Errorf("bench: %s rejected the status request", addr)
	}
	return reply, nil
}

// statuses requests the status of every address at once. A server that
// does not reply has no entry.
func (p *statusPoller) statuses(ctx context.Context, addrs []string, timeout time.Duration) map[string]*server.StatusReply {
	replies := make(map[string]*server.StatusReply, len(addrs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, addr := range addrs {
		wg.Go(func() {
			reply, err := p.status(ctx, addr, timeout)
			if err != nil {
				return
			}
			mu.Lock()
			replies[addr] = reply
			mu.Unlock()
		})
	}
	wg.Wait()
	return replies
}

func (p *statusPoller) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.requesters {
		r.Close()
	}
	p.requesters = make(map[string]*proto.Requester)
}

// agreement reports whether every address replied, serves, and accepts
// want as coordinator; an empty want accepts any one coordinator that
// all of them share.
func agreement(replies map[string]*server.StatusReply, addrs []string, want string) (string, bool) {
	coordinator := want
	for _, addr := range addrs {
		reply, ok := replies[addr]
		if !ok || !reply.Serving || reply.Coordinator == "" {
			return "", false
		}
		if coordinator == "" {
			coordinator = reply.Coordinator
		}
		if reply.Coordinator != coordinator {
			return "", false
		}
	}
	return coordinator, true
}

// addrs lists the server-to-server endpoints of specs.
func addrs(specs []*serverSpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Addr
	}
	return out
}

// waitAgreement waits until every server in specs serves and accepts want
// as coordinator.
func (c *cluster) waitAgreement(ctx context.Context, poller *statusPoller, specs []*serverSpec, want string, timeout time.Duration) error {
	list := addrs(specs)
	return c.waitFor(ctx, timeout, readyPoll, fmt.Sprintf("%d servers agreeing on %s", len(specs), want), func() bool {
		_, ok := agreement(poller.statuses(ctx, list, statusTimeout), list, want)
		return ok
	})
}

// waitReady waits until every server serves and accepts the highest rank
// as coordinator, and a login through the broker succeeds.
// A cluster without servers, the broker alone, is ready at once: what
// uses it waits for its own traffic.
func (c *cluster) waitReady(ctx context.Context, poller *statusPoller, clocks proto.Clocks) error {
	if len(c.servers) == 0 {
		// The broker alone, for pub/sub: its proxy must accept
		// connections before publishers and subscribers dial it.
		return c.waitFor(ctx, readyTimeout, readyPoll, "the broker's proxy to accept connections", func() bool {
			return c.accepts(ctx, c.xsub, proto.Pub, c.opts.clusterKey) && c.accepts(ctx, c.xpub, proto.Sub, "")
		})
	}
	top := c.servers[len(c.servers)-1].Name
	if err := c.waitAgreement(ctx, poller, c.servers, top, readyTimeout); err != nil {
		return err
	}
	client := newClient(c.frontend, clocks)
	defer client.close()
	var last error
	err := c.waitFor(ctx, readyTimeout, readyPoll, "a login through the broker", func() bool {
		last = client.login(ctx, "bench-ready", 2*time.Second)
		return last == nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (last login: %w)", err, last)
	}
	return err
}

// accepts reports whether endpoint completes a handshake with a typ
// socket presenting key. The cluster key guards only the publisher side.
func (c *cluster) accepts(ctx context.Context, endpoint string, typ zmq4.SocketType, key string) bool {
	conn, err := proto.DialKey(ctx, endpoint, typ, time.Second, key)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
