package proto

import "msgsys/clock"

// Clocks are a process's two clocks as messages use them: every message
// sent carries the physical time and a fresh Lamport tick, and every
// message received advances the Lamport clock.
type Clocks struct {
	Lamport  *clock.Lamport
	Physical *clock.Physical
}

// NewClocks returns clocks with no skew, for processes that take no clock
// flags.
func NewClocks() Clocks {
	return Clocks{Lamport: new(clock.Lamport), Physical: clock.NewPhysical(clock.PhysicalConfig{})}
}

// Meta ticks the Lamport clock and returns the metadata of a message about
// to be sent.
func (c Clocks) Meta() Meta {
	return Meta{Timestamp: FormatTime(c.Physical.Now()), Clock: c.Lamport.Tick()}
}

// Witness applies the receive rule to a decoded message: the Lamport clock
// becomes the maximum of its value and the message's. It returns the
// message's clock error, if any, for the caller to reject the message.
func (c Clocks) Witness(d Data) (uint64, error) {
	received, err := d.Clock()
	if err != nil {
		return 0, err
	}
	return c.Lamport.Witness(received), nil
}

// MaxClientJump is how far one client request may move a server's Lamport
// clock forward (see clock.Lamport.WitnessNear).
const MaxClientJump = 1 << 20

// MaxPeerJump is how far one message from another server, or the
// reference, may move a server's Lamport clock forward. A peer is ahead by
// the events it handled while this server was away, which stay far below
// 2^32 (the benchmarks store a million messages), so honest peers are
// never held back.
const MaxPeerJump = 1 << 32

// WitnessClient is Witness for a client request. It also returns the
// clock the request carried when that was more than MaxClientJump ahead,
// and 0 otherwise.
func (c Clocks) WitnessClient(d Data) (uint64, uint64, error) {
	return c.witnessNear(d, MaxClientJump)
}

// WitnessPeer is WitnessClient for a message from another server, with
// MaxPeerJump as the bound.
func (c Clocks) WitnessPeer(d Data) (uint64, uint64, error) {
	return c.witnessNear(d, MaxPeerJump)
}

func (c Clocks) witnessNear(d Data, maxJump uint64) (uint64, uint64, error) {
	received, err := d.Clock()
	if err != nil {
		return 0, 0, err
	}
	value, heldBack := c.Lamport.WitnessNear(received, maxJump)
	if heldBack {
		return value, received, nil
	}
	return value, 0, nil
}
