package proto

import (
	"fmt"
)

// maxSkipBytes bounds the message that Recv reads past after it exceeds
// MaxMessageBytes, frames charged as in readMessage. Reading past keeps the
// connection in step for an error reply. A frame that declares more closes
// the connection at once, so that a declared size no peer sends in full,
// such as 2^63 bytes, is reported at once instead of never.
const maxSkipBytes = 1 << 30

// MessageTooLargeError is a message above MaxMessageBytes that Recv read
// past without keeping it, on a connection where SkipOversized was called.
// The connection stays open, so the caller can send an error reply along
// the envelope.
type MessageTooLargeError struct {
	Frames int    // frames in the message
	Bytes  uint64 // the frame bodies added up
	// Envelope is the frames before the first frame that passed the
	// limit. A request's routing frames and empty delimiter are there,
	// and so is the route of its reply.
	Envelope [][]byte
}

func (e *MessageTooLargeError) Error() string {
	return fmt.Sprintf("proto: message of %d frames and %d bytes exceeds the transport limit of %d bytes, counting %d per frame", e.Frames, e.Bytes, MaxMessageBytes, frameOverhead)
}

// Unwrap makes errors.Is(err, ErrMessageTooLarge) hold.
func (e *MessageTooLargeError) Unwrap() error { return ErrMessageTooLarge }

// SkipOversized makes Recv read past a message above MaxMessageBytes, up
// to maxSkipBytes, and return a *MessageTooLargeError for it with the
// connection still open, so that the caller can reply with an error.
// Without it such a message closes the connection, which suits callers
// that have no reply to send. Call it before the first Recv.
func (c *Conn) SkipOversized() { c.skipOversized = true }

// skipMessage reads past the rest of a message that passed
// MaxMessageBytes, starting with the body of the frame whose header
// readMessage has just read, and returns the *MessageTooLargeError for it.
// envelope is the frames read before that one. A message that passes
// maxSkipBytes, or a command inside it, ends with an error that closes the
// connection, since the stream can no longer be followed.
func (c *Conn) skipMessage(envelope [][]byte, flags byte, size uint64) error {
	e := &MessageTooLargeError{Frames: len(envelope), Envelope: envelope}
	var charged uint64
	for _, frame := range envelope {
		e.Bytes += uint64(len(frame))
		charged += uint64(len(frame)) + frameOverhead
	}
	for {
		if flags&flagCommand != 0 {
			return fmt.Errorf("%w: a ZMTP command inside a message of %d frames", ErrMessageTooLarge, e.Frames)
		}
		if size > maxSkipBytes || charged+size+frameOverhead > maxSkipBytes {
			return fmt.Errorf("%w: a frame of %d bytes after %d bytes, above the %d bytes that a connection reads past to reply", ErrMessageTooLarge, size, e.Bytes, maxSkipBytes)
		}
		e.Frames++
		e.Bytes += size
		charged += size + frameOverhead
		if _, err := c.reader.Discard(int(size)); err != nil {
			return err
		}
		if flags&flagMore == 0 {
			return e
		}
		var err error
		if flags, size, err = c.readHeader(); err != nil {
			return err
		}
	}
}
