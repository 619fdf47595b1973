package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// skipReport is what a handler with SkipOversized saw: the error of each
// oversized message and the next message read after it.
type skipReport struct {
	err  error
	next [][]byte
}

// serveSkipping serves a ROUTER whose connections skip oversized messages
// and report the first one with the message that follows it.
func serveSkipping(t *testing.T) (*Listener, chan skipReport) {
	reports := make(chan skipReport, 4)
	ln := serve(t, Router, func(c *Conn) {
		c.SkipOversized()
		_, err := c.Recv()
		report := skipReport{err: err}
		if errors.As(err, new(*MessageTooLargeError)) {
			report.next, _ = c.Recv()
		}
		reports <- report
	})
	return ln, reports
}

func receiveReport(t *testing.T, reports chan skipReport) skipReport {
	t.Helper()
	select {
	case r := <-reports:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no report from the handler")
	}
	return skipReport{}
}

func TestConnSkipsOversizedMessage(t *testing.T) {
	ln, reports := serveSkipping(t)
	raw := rawHandshake(t, ln.Endpoint(), Req)

	// A REQ request: the delimiter, then a body above the limit, then a
	// small request that must still arrive whole.
	size := uint64(MaxMessageBytes + 1)
	go func() {
		_, _ = raw.Write([]byte{flagMore, 0})
		_, _ = raw.Write(binary.BigEndian.AppendUint64([]byte{flagLong}, size))
		_, _ = raw.Write(make([]byte, size))
		_, _ = raw.Write([]byte{flagMore, 0, 0, 2, 'o', 'i'})
	}()

	report := receiveReport(t, reports)
	var tooLarge *MessageTooLargeError
	if !errors.As(report.err, &tooLarge) {
		t.Fatalf("Recv err = %v, want a *MessageTooLargeError", report.err)
	}
	if !errors.Is(report.err, ErrMessageTooLarge) {
		t.Errorf("Recv err = %v, want it to match ErrMessageTooLarge", report.err)
	}
	if len(tooLarge.Envelope) != 1 || len(tooLarge.Envelope[0]) != 0 {
		t.Errorf("envelope = %q, want the empty delimiter alone", tooLarge.Envelope)
	}
	if tooLarge.Bytes != size || tooLarge.Frames != 2 {
		t.Errorf("size = %d bytes in %d frames, want %d bytes in 2", tooLarge.Bytes, tooLarge.Frames, size)
	}
	if len(report.next) != 2 || !bytes.Equal(report.next[1], []byte("oi")) {
		t.Errorf("next message = %q, want the delimiter and \"oi\"", report.next)
	}
}

func TestConnSkipOversizedMultipart(t *testing.T) {
	ln, reports := serveSkipping(t)
	raw := rawHandshake(t, ln.Endpoint(), Dealer)

	// Two frames that pass the limit together, and a third after them
	// that belongs to the same message and is skipped too.
	half := uint64(MaxMessageBytes / 2)
	go func() {
		_, _ = raw.Write([]byte{flagMore, 2, 'i', 'd'})
		for range 2 {
			_, _ = raw.Write(binary.BigEndian.AppendUint64([]byte{flagLong | flagMore}, half))
			_, _ = raw.Write(make([]byte, half))
		}
		_, _ = raw.Write([]byte{0, 1, 'x'})
		_, _ = raw.Write([]byte{0, 2, 'o', 'k'})
	}()

	report := receiveReport(t, reports)
	var tooLarge *MessageTooLargeError
	if !errors.As(report.err, &tooLarge) {
		t.Fatalf("Recv err = %v, want a *MessageTooLargeError", report.err)
	}
	if len(tooLarge.Envelope) != 2 || string(tooLarge.Envelope[0]) != "id" {
		t.Errorf("envelope has %d frames, want the identity and the first half", len(tooLarge.Envelope))
	}
	if tooLarge.Frames != 4 {
		t.Errorf("frames = %d, want 4", tooLarge.Frames)
	}
	if len(report.next) != 1 || string(report.next[0]) != "ok" {
		t.Errorf("next message = %q, want \"ok\"", report.next)
	}
}

func TestConnSkipStopsAtDeclaredHugeFrame(t *testing.T) {
	ln, reports := serveSkipping(t)
	raw := rawHandshake(t, ln.Endpoint(), Dealer)

	// No peer sends 2^62 bytes: the connection closes at the header.
	if _, err := raw.Write(binary.BigEndian.AppendUint64([]byte{flagLong}, 1<<62)); err != nil {
		t.Fatal(err)
	}
	report := receiveReport(t, reports)
	if errors.As(report.err, new(*MessageTooLargeError)) {
		t.Fatalf("Recv err = %v, want the connection closed, not the message skipped", report.err)
	}
	if !errors.Is(report.err, ErrMessageTooLarge) {
		t.Errorf("Recv err = %v, want ErrMessageTooLarge", report.err)
	}
	expectClosed(t, raw, 5*time.Second)
}
