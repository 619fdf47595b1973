package server

import (
	"sync"
	"time"
)

// rateLimiter is a token bucket per user, so one client posting as fast
// as it can gets a clear error instead of starving everyone else.
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex // guards buckets
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), buckets: make(map[string]*bucket), swept: time.Now()}
}

// allow takes a token from user's bucket and reports whether there was
// one. A rate of zero disables the limit.
func (l *rateLimiter) allow(user string, now time.Time) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()

	// Full buckets carry no information; dropping them keeps the map as
	// small as the set of users active in the last minute.
	if now.Sub(l.swept) > time.Minute {
		for name, b := range l.buckets {
			if now.Sub(b.last) > time.Minute {
				delete(l.buckets, name)
			}
		}
		l.swept = now
	}

	b, ok := l.buckets[user]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[user] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
