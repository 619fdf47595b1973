package clock

import "sync/atomic"

// Lamport is a Lamport logical clock. The zero value is a clock at 0, ready
// to use, and every method is safe for concurrent use without locks.
type Lamport struct {
	counter atomic.Uint64
}

// MaxLamport is the largest value the clock takes: 2^53-1, the largest
// integer that every JSON and float64 reader holds exactly. The clock
// stops there rather than pass it, so one message with a huge clock cannot
// make every later message unreadable. Past that point events share a
// clock value and ties are broken as for concurrent events.
const MaxLamport = 1<<53 - 1

// WitnessCeiling is the highest value a received clock moves the clock to,
// half of MaxLamport. A message with a higher clock moves it only that
// far, so the clock always has 2^52 ticks left and events keep their
// order. Without the ceiling, one message with a clock of MaxLamport
// stopped every clock that received it, for good.
const WitnessCeiling = MaxLamport / 2

// Tick increments the clock and returns the new value. A process calls it
// before sending a message and puts the value in the message's clock field.
func (l *Lamport) Tick() uint64 {
	for {
		current := l.counter.Load()
		if current >= MaxLamport {
			return MaxLamport
		}
		if l.counter.CompareAndSwap(current, current+1) {
			return current + 1
		}
	}
}

// Witness sets the clock to the maximum of its value and received, the clock
// of a received message, and returns the result. Following the protocol's
// receive rule, it does not add 1, so it never lowers the value. A received
// clock above WitnessCeiling counts as WitnessCeiling.
func (l *Lamport) Witness(received uint64) uint64 {
	received = min(received, WitnessCeiling)
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

// WitnessNear is Witness for a clock that nothing but a bug or a hostile
// sender puts far ahead, such as a client's: a client's clock grows with
// the replies it reads, so it stays near the servers'. It moves the clock
// forward by at most maxJump, and never past WitnessCeiling, and reports
// whether received was ahead of the result. The bound keeps one hostile
// request from moving every server's clock by billions at once.
func (l *Lamport) WitnessNear(received, maxJump uint64) (uint64, bool) {
	for {
		current := l.counter.Load()
		value := min(received, current+maxJump, WitnessCeiling)
		if value <= current {
			return current, received > current
		}
		if l.counter.CompareAndSwap(current, value) {
			return value, received > value
		}
	}
}

// Value returns the current value without changing it.
func (l *Lamport) Value() uint64 {
	return l.counter.Load()
}
