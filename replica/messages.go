package replica

import "msgsys/store"

// Server-to-server services of replication. They travel on each server's
// --addr endpoint beside the standard election and clock services, and
// docs/replication.md describes them for other implementations.
const (
	// ServiceReplicate pushes a batch of the sender's own ops, in sequence
	// order, to a peer. The reply carries the highest contiguous sequence
	// number the peer holds from that origin afterwards.
	ServiceReplicate = "replicate"
	// ServiceSync pulls every op the caller lacks, in bounded batches, by
	// sending the caller's version vector.
	ServiceSync = "sync"
)

// ReplicateRequest carries ops of one origin, oldest first. An empty batch
// is a probe for the peer's position.
type ReplicateRequest struct {
	Origin    string     `msgpack:"origin"`
	Ops       []store.Op `msgpack:"ops"`
	Timestamp string     `msgpack:"timestamp"`
	Clock     uint64     `msgpack:"clock"`
}

// ReplicateReply reports how far the peer holds the origin's ops.
type ReplicateReply struct {
	Status    string `msgpack:"status"`
	Have      uint64 `msgpack:"have"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// SyncRequest requests the ops missing from Version. Name and Addr
// introduce the caller, so the peer starts pushing its own writes to it.
type SyncRequest struct {
	Name    string            `msgpack:"name"`
	Addr    string            `msgpack:"addr"`
	Version map[string]uint64 `msgpack:"version"`
	// Background marks a periodic anti-entropy pull from a running server,
	// which, unlike a catch-up, does not mean the caller restarted.
	Background bool   `msgpack:"background,omitempty"`
	Timestamp  string `msgpack:"timestamp"`
	Clock      uint64 `msgpack:"clock"`
}

// SyncReply carries a batch of missing ops. Done means the batch holds all
// the peer has beyond the caller's version vector. InSync means the peer
// already waits for the caller's acknowledgement before acknowledging its
// own writes, so the caller will miss none of them from now on.
type SyncReply struct {
	Status    string     `msgpack:"status"`
	Ops       []store.Op `msgpack:"ops"`
	Done      bool       `msgpack:"done"`
	InSync    bool       `msgpack:"insync"`
	Timestamp string     `msgpack:"timestamp"`
	Clock     uint64     `msgpack:"clock"`
}
