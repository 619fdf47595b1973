package proto

import (
	"log/slog"
	"sync"
	"time"
)

// RateLog lets one event of a kind through per second and counts the ones
// it holds back, so that a flood of bad input from the network cannot
// flood the log. The zero value is ready to use.
type RateLog struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

// allow reports whether to log now, and how many events were held back
// since the last one logged.
func (r *RateLog) allow() (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Before(r.next) {
		r.suppressed++
		return false, 0
	}
	r.next = now.Add(time.Second)
	n := r.suppressed
	r.suppressed = 0
	return true, n
}

// Warn logs msg at warn level unless r holds it back, with the number of
// events held back since the last one as suppressed.
func (r *RateLog) Warn(log *slog.Logger, msg string, args ...any) {
	if ok, n := r.allow(); ok {
		log.Warn(msg, append(args, "suppressed", n)...)
	}
}

// Error is Warn at error level.
func (r *RateLog) Error(log *slog.Logger, msg string, args ...any) {
	if ok, n := r.allow(); ok {
		log.Error(msg, append(args, "suppressed", n)...)
	}
}

// Info is Warn at info level.
func (r *RateLog) Info(log *slog.Logger, msg string, args ...any) {
	if ok, n := r.allow(); ok {
		log.Info(msg, append(args, "suppressed", n)...)
	}
}
