package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"msgsys/proto"
	"msgsys/replica"
	"msgsys/store"
)

// Fill settings.
const (
	// pushBatch is the ops of one replicate request: the servers' own
	// replication batch size.
	pushBatch = 1000
	// pushTimeout bounds one replicate request; a batch is one commit.
	pushTimeout = 30 * time.Second
	// fillRetries bounds the attempts of one post in a clients fill.
	fillRetries = 10
	// replicatedTimeout bounds the wait for every server to hold what the
	// fill stored.
	replicatedTimeout = 2 * time.Minute
)

// fillStats describes how messages were stored.
type fillStats struct {
	stored  int
	elapsed time.Duration
	stopped bool // MaxFill ended the fill early
}

// fill stores messages posts on every server of c with the configured
// method, and waits until every server stores them. stored is how many
// every server stores, which is less than messages only when maxFill ended
// the fill early.
func (b *Bench) fill(ctx context.Context, c *cluster, poller *statusPoller, messages int, maxFill time.Duration) (fillStats, error) {
	fillCtx := ctx
	if maxFill > 0 {
		var cancel context.CancelFunc
		fillCtx, cancel = context.WithTimeout(ctx, maxFill)
		defer cancel()
	}
	var done atomic.Int64
	total := int64(messages)
	if b.cfg.Fill == FillPush {
		total *= int64(len(c.servers))
	}
	label := fmt.Sprintf("storing %d messages (%s)", messages, b.cfg.Fill)
	stopBar := b.progress.track(label, func() float64 { return float64(done.Load()) / float64(total) })
	b.log.Debug("filling", "messages", messages, "fill", b.cfg.Fill, "servers", len(c.servers))

	start := time.Now()
	var err error
	if b.cfg.Fill == FillPush {
		err = b.fillPush(fillCtx, c.servers, messages, &done)
	} else {
		err = b.fillClients(fillCtx, c.frontend, messages, &done)
	}
	stopBar()
	stopped := false
	if err != nil {
		if ctx.Err() != nil {
			return fillStats{}, ctx.Err()
		}
		if fillCtx.Err() == nil {
			return fillStats{}, err
		}
		stopped = true
		b.log.Debug("fill stopped by --max-fill", "after", maxFill)
	}

	// Replication may still be delivering the last writes.
	want := messages
	if stopped {
		want = 0
	}
	stored, err := b.awaitStored(ctx, c, poller, want)
	if err != nil {
		return fillStats{}, err
	}
	return fillStats{stored: stored, elapsed: time.Since(start), stopped: stopped}, nil
}

// awaitStored waits until every server stores at least want messages and
// returns the smallest count; want 0 waits until the counts stop
// changing.
func (b *Bench) awaitStored(ctx context.Context, c *cluster, poller *statusPoller, want int) (int, error) {
	list := addrs(c.servers)
	lowest, last := -1, -2
	err := c.waitFor(ctx, replicatedTimeout, 100*time.Millisecond, fmt.Sprintf("every server storing %d messages", want), func() bool {
		replies := poller.statuses(ctx, list, 2*time.Second)
		if len(replies) < len(list) {
			return false
		}
		lowest = -1
		for _, r := range replies {
			if lowest < 0 || r.Messages < lowest {
				lowest = r.Messages
			}
		}
		if want > 0 {
			return lowest >= want
		}
		settled := lowest == last
		last = lowest
		return settled
	})
	return lowest, err
}

// fillPush sends the same ops, from an origin of the bench's own, to
// every server's replicate service, as a peer pushes its writes: a login,
// a channel, then the posts, in batches of pushBatch.
func (b *Bench) fillPush(ctx context.Context, specs []*serverSpec, messages int, done *atomic.Int64) error {
	origin := "bench-" + b.run
	base := benchOps{origin: origin, user: origin, channel: origin, text: strings.Repeat("x", b.cfg.Size), start: time.Now().UnixNano(), clock: b.cfg.Clocks.Lamport.Tick()}
	last := uint64(messages) + 2 // the login and the channel come first

	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Go(func() {
			requester := proto.NewKeyedRequester(spec.Addr, b.cfg.ClusterKey)
			defer requester.Close()
			for from := uint64(1); from <= last; from += pushBatch {
				to := min(from+pushBatch-1, last)
				req := &replica.ReplicateRequest{Origin: origin, Ops: base.ops(from, to)}
				if err := b.push(ctx, requester, req, to); err != nil {
					errs[i] = fmt.Errorf("bench: push to %s: %w", spec.Name, err)
					return
				}
				posts := int64(to - from + 1)
				if from == 1 {
					posts -= 2
				}
				done.Add(posts)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (b *Bench) push(ctx context.Context, requester *proto.Requester, req *replica.ReplicateRequest, want uint64) error {
	frame, err := proto.Encode(replica.ServiceReplicate, req, b.cfg.Clocks.Meta())
	if err != nil {
		return err
	}
	payload, err := requester.Request(ctx, frame, pushTimeout)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	var reply replica.ReplicateReply
	if _, err := proto.DecodeInto(payload, &reply); err != nil {
		return fmt.Errorf("invalid replicate reply: %w", err)
	}
	b.cfg.Clocks.Lamport.Witness(reply.Clock)
	// A server may hold more than the batch: its anti-entropy pulls the
	// bench's ops from servers that the fill reached first.
	if reply.Status != proto.StatusOK || reply.Have < want {
		return fmt.Errorf("replicate reply %s, stored up to seq %d of %d", reply.Status, reply.Have, want)
	}
	return nil
}

// benchOps generates the ops of a push fill. The same seq always gives
// the same op, so every server stores identical copies.
type benchOps struct {
	origin, user, channel, text string
	start                       int64  // Unix nanoseconds of the first op
	clock                       uint64 // Lamport clock of the first op
}

func (g benchOps) ops(from, to uint64) []store.Op {
	ops := make([]store.Op, 0, to-from+1)
	for seq := from; seq <= to; seq++ {
		op := store.Op{
			Origin: g.origin, Seq: seq, Clock: g.clock + seq, Time: g.start + int64(seq)*int64(time.Microsecond),
			User: g.user, RID: proto.ServicePublish + ":" + g.origin + "-" + strconv.FormatUint(seq, 10),
		}
		switch seq {
		case 1:
			op.Kind = store.KindLogin
		case 2:
			op.Kind, op.Channel = store.KindChannel, g.channel
		default:
			op.Kind, op.Channel, op.Text = store.KindPost, g.channel, g.text
		}
		ops = append(ops, op)
	}
	return ops
}

// fillClients publishes messages posts through the broker with the
// configured clients, each its own user, retrying failed posts.
func (b *Bench) fillClients(ctx context.Context, frontend string, messages int, done *atomic.Int64) error {
	clients := connectClients(frontend, b.cfg.Clients, b.cfg.Clocks)
	defer closeClients(clients)
	users := make([]string, len(clients))
	for i := range users {
		users[i] = fmt.Sprintf("f%s-%d", b.run, i)
	}
	channel := "fill-" + b.run
	text := strings.Repeat("x", b.cfg.Size)
	if err := forEach(clients, func(i int, c *client) error { return c.login(ctx, users[i], b.cfg.Timeout) }); err != nil {
		return fmt.Errorf("bench: fill logins: %w", err)
	}
	if err := clients[0].createChannel(ctx, channel, b.cfg.Timeout); err != nil {
		return fmt.Errorf("bench: fill channel: %w", err)
	}

	var claimed atomic.Int64
	return forEach(clients, func(i int, c *client) error {
		for claimed.Add(1) <= int64(messages) {
			id := requestID()
			var err error
			for range fillRetries {
				// A retry repeats the id, so a post whose reply was lost is
				// stored once.
				req := &proto.PublishRequest{User: users[i], Channel: channel, Message: text, ID: id}
				if err = c.send(ctx, proto.ServicePublish, req, b.cfg.Timeout); err == nil || ctx.Err() != nil {
					break
				}
			}
			if err != nil {
				return err
			}
			done.Add(1)
		}
		return nil
	})
}
