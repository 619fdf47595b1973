package replica

import (
	"errors"
	"time"

	"msgsys/proto"
)

// errUnsupported is an error reply from a peer that does not implement
// msgsys replication, such as a server written from the standard protocol
// alone, which replies to replicate and sync with its error for an unknown
// service.
var errUnsupported = errors.New("replica: peer does not implement msgsys replication")

// unsupportedRetry is how long a sender waits before it probes a peer
// without msgsys replication again. Such a peer replies to every probe with
// an error, so probing it at the usual pace only loads it.
const unsupportedRetry = 30 * time.Second

// isUnsupportedReply reports whether payload is an error reply that no
// msgsys server sends for this service. Such a reply names the service
// "error", or it lacks key, which every msgsys reply of the service
// carries (have for replicate, done for sync).
func isUnsupportedReply(payload []byte, key string) bool {
	env, err := proto.Decode(payload)
	if err != nil {
		return false
	}
	if env.Service == proto.ServiceError {
		return true
	}
	status, _, _ := env.Data.OptString("status")
	_, hasKey := env.Data[key]
	return !proto.IsSuccess(status) && !hasKey
}

// markUnsupported records that name does not implement msgsys
// replication, and logs it when this is new.
func (r *Replicator) markUnsupported(name, service string) {
	r.mu.Lock()
	known := r.unsupported[name]
	r.unsupported[name] = true
	r.mu.Unlock()
	if !known {
		r.log.Warn("peer does not implement msgsys replication, probing it rarely", "peer", name, "service", service, "retry_after", unsupportedRetry)
	}
}

// clearUnsupportedLocked removes the mark of markUnsupported once name replies
// as a msgsys server, and logs the change.
func (r *Replicator) clearUnsupportedLocked(name string) {
	if r.unsupported[name] {
		delete(r.unsupported, name)
		r.log.Info("peer implements msgsys replication again", "peer", name)
	}
}

// Unsupported reports whether name replied to its last replicate or sync
// request with an error that only a server without msgsys replication
// sends. Such a server holds no replicated data and decides no channel.
func (r *Replicator) Unsupported(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unsupported[name]
}

// Replicates reports whether name has replied to a replicate request as a
// msgsys server since its sender started.
func (r *Replicator) Replicates(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.peers[name]
	return ok && p.replied
}
