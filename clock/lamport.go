package clock

import "sync/atomic"

// Lamport is a Lamport logical clock. The zero value is a clock at 0, ready
// to use, and every method is safe for concurrent use without locks.
type Lamport struct {
	counter atomic.Uint64
}

// Tick increments the clock and returns the new value. A process calls it
// before sending a message and puts the value in the message's clock field.
func (l *Lamport) Tick() uint64 {
	return l.counter.Add(1)
}

// Witness sets the clock to the maximum of its value and received, the clock
// of a received message, and returns the result. Following the protocol's
// receive rule, it does not add 1, so it never lowers the value.
func (l *Lamport) Witness(received uint64) uint64 {
	for {
		current := l.counter.Load()
		if received <= current {
			return current
		}
		if l.counter.CompareAndSwap(current, received) {
			return received
		}
	}
}

// Value returns the current value without changing it.
func (l *Lamport) Value() uint64 {
	return l.counter.Load()
}
