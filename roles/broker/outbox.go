package broker

import (
	"runtime"
	"sync"

	"msgsys/proto"
)

// outbox is a bounded FIFO of messages for one connection, written by one
// goroutine running run. It lets the goroutines that route messages hand
// them over without ever blocking on a slow peer: when the outbox is full
// the message is dropped and counted. Memory grows with the backlog, never
// beyond limit messages nor maxOutboxBytes.
type outbox struct {
	limit int
	// gather makes run yield once before it takes the queue, so that the
	// goroutines about to push join the same write. A woken goroutine
	// runs next on its processor, so without the yield run would take
	// the first message alone.
	gather bool
	ready  chan struct{} // holds a token while items is not empty

	mu      sync.Mutex // guards the fields below
	items   [][][]byte
	bytes   int        // frame bytes in items
	spare   [][][]byte // drained batch kept for reuse, set only by run
	closed  bool
	dropped uint64
}

// maxOutboxBytes bounds the bytes queued for one connection, because the
// message count alone lets a few large publications hold much memory for a
// subscriber that does not read.
const maxOutboxBytes = 64 << 20

// maxSpare is the largest drained array, in messages, that an outbox keeps
// for reuse.
const maxSpare = 1024

func newOutbox(limit int) *outbox {
	return &outbox{limit: limit, ready: make(chan struct{}, 1)}
}

// push queues msg and reports whether it was queued. When o is full it
// drops msg and returns the number of drops so far. When o is closed it
// returns false and 0.
func (o *outbox) push(msg [][]byte) (bool, uint64) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return false, 0
	}
	size := 0
	for _, frame := range msg {
		size += len(frame)
	}
	if len(o.items) >= o.limit || o.bytes+size > maxOutboxBytes {
		o.dropped++
		dropped := o.dropped
		o.mu.Unlock()
		return false, dropped
	}
	o.items = append(o.items, msg)
	o.bytes += size
	o.mu.Unlock()

	select {
	case o.ready <- struct{}{}:
	default:
	}
	return true, 0
}

// droppedCount is the number of messages dropped because o was full.
func (o *outbox) droppedCount() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped
}

// close discards the queued messages, and later pushes fail.
func (o *outbox) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.items, o.spare = nil, nil
	o.bytes = 0
}

// sendChunk bounds the messages written with one flush, so a large
// backlog still reaches the peer in pieces.
const sendChunk = 256

// run writes queued messages to conn until conn closes or a write fails,
// which closes conn. It takes the whole backlog at once, so one wake-up
// serves every message that arrived meanwhile.
func (o *outbox) run(conn *proto.Conn) {
	for {
		select {
		case <-conn.Done():
			return
		case <-o.ready:
		}
		if o.gather {
			runtime.Gosched()
		}

		o.mu.Lock()
		batch := o.items
		o.items, o.spare = o.spare, nil
		o.bytes = 0
		o.mu.Unlock()

		// One flush carries up to sendChunk messages: a system call per
		// message was most of the fan-out's CPU time.
		for start := 0; start < len(batch); start += sendChunk {
			chunk := batch[start:min(start+sendChunk, len(batch))]
			if err := conn.SendBatch(chunk); err != nil {
				return
			}
			clear(chunk) // release the messages for the collector
		}

		// A small array is kept for the next batch. A large one, left by a
		// burst, goes to the collector so that an idle connection holds
		// little memory.
		o.mu.Lock()
		if !o.closed && o.spare == nil && cap(batch) <= maxSpare {
			o.spare = batch[:0]
		}
		o.mu.Unlock()
	}
}
