package proto

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// Backoff bounds between reconnection attempts.
const (
	redialMin = 50 * time.Millisecond
	redialMax = time.Second
)

// Redial keeps a connection to endpoint alive until ctx is done. It dials,
// runs session with the connection, and when session returns (the peer
// went away or failed) dials again. It backs off while the peer is down or
// keeps dropping the connection. zmq4's automatic reconnection can
// deadlock, so msgsys reconnects this way. session must return once ctx is
// done or the connection closes. A nil log discards the log.
func Redial(ctx context.Context, endpoint string, typ zmq4.SocketType, log *slog.Logger, session func(context.Context, *Conn) error) {
	RedialKey(ctx, endpoint, typ, "", log, session)
}

// identityDials numbers the connections of RedialAs across calls, because
// a caller may start a new RedialAs for each session, as a server does
// after each catch-up.
var identityDials atomic.Uint64

// RedialKey is Redial presenting a cluster key, when key is set.
func RedialKey(ctx context.Context, endpoint string, typ zmq4.SocketType, key string, log *slog.Logger, session func(context.Context, *Conn) error) {
	RedialAs(ctx, endpoint, typ, key, "", log, session)
}

// RedialAs is RedialKey announcing identity in each handshake (DialAs),
// followed by "#" and a number unique in the process. A libzmq ROUTER
// takes the identity for the connection's routing id and refuses a second
// connection with one still in use, which a reconnection could otherwise
// meet while the ROUTER has not yet seen the first one close.
func RedialAs(ctx context.Context, endpoint string, typ zmq4.SocketType, key, identity string, log *slog.Logger, session func(context.Context, *Conn) error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	delay := redialMin
	down := false
	for ctx.Err() == nil {
		id := ""
		if identity != "" {
			id = identity + "#" + strconv.FormatUint(identityDials.Add(1), 10)
		}
		conn, err := DialAs(ctx, endpoint, typ, HandshakeTimeout, key, id)
		if err != nil {
			if !down {
				log.Warn("connect failed", "endpoint", endpoint, "err", err)
				down = true
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(delay*2, redialMax)
			continue
		}

		if down {
			log.Info("reconnected", "endpoint", endpoint)
		} else {
			log.Debug("connected", "endpoint", endpoint)
		}
		down = false

		started := time.Now()
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		err = session(ctx, conn)
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return
		}
		log.Warn("connection lost", "endpoint", endpoint, "err", err, "connected_for", time.Since(started).Round(time.Millisecond))
		down = true

		// A peer that accepts and at once drops the connection would
		// otherwise be redialled in a busy loop, so the backoff resets only
		// after a session that lasted.
		if time.Since(started) > redialMax {
			delay = redialMin
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, redialMax)
	}
}

// Heartbeat pings conn every interval and closes it when nothing has
// arrived for timeout, so a peer that froze (SIGSTOP, a cut cable) is
// noticed although TCP stays open. It returns when conn closes or ctx is
// done.
func Heartbeat(ctx context.Context, conn *Conn, interval, timeout time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-conn.Done():
			return
		case <-ticker.C:
			if conn.Idle() > timeout {
				conn.Close()
				return
			}
			if err := conn.Ping(); err != nil {
				return
			}
		}
	}
}
