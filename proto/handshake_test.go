package proto

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// handshakeWith runs the server side of a handshake against a peer that
// sends input, and closes unless input is nil or stay is set, and returns
// the handshake's error.
func handshakeWith(t *testing.T, input []byte, stay bool, deadline time.Duration) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	peer, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	if input != nil {
		if _, err := peer.Write(input); err != nil {
			t.Fatal(err)
		}
		if !stay {
			peer.Close()
		}
	}
	conn, err := open(raw, Router, true, time.Now().Add(deadline), deadline, "", "")
	if err == nil {
		conn.Close()
		t.Fatal("handshake succeeded")
	}
	return err
}

func TestHandshakeErrorClosedEarly(t *testing.T) {
	err := handshakeWith(t, []byte{}, false, 2*time.Second)
	if !errors.Is(err, ErrClosedEarly) {
		t.Errorf("err = %v, want ErrClosedEarly", err)
	}
}

func TestHandshakeErrorNotZMTP(t *testing.T) {
	err := handshakeWith(t, []byte("GET / HTTP/1.1\r\n\r\n"), false, 2*time.Second)
	if !errors.Is(err, errNotZMTP) {
		t.Errorf("err = %v, want errNotZMTP", err)
	}
	if !strings.Contains(err.Error(), `"GET / HT"`) {
		t.Errorf("err = %v, want the peer's first bytes quoted", err)
	}
}

func TestHandshakeErrorClosedMidway(t *testing.T) {
	err := handshakeWith(t, zmtpGreeting()[:20], false, 2*time.Second)
	if !strings.Contains(err.Error(), "closed the connection during the handshake") {
		t.Errorf("err = %v, want a close during the handshake", err)
	}
	if strings.Contains(err.Error(), "zmq4") {
		t.Errorf("err = %v, want no zmq4 wrapping", err)
	}
}

func TestHandshakeErrorTimeout(t *testing.T) {
	err := handshakeWith(t, nil, false, 50*time.Millisecond)
	var timeout *HandshakeTimeoutError
	if !errors.As(err, &timeout) {
		t.Fatalf("err = %v, want a *HandshakeTimeoutError", err)
	}
	if !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Errorf("err = %v, want the handshake's own limit, 50ms", err)
	}
}

func TestHandshakeErrorIncompatibleType(t *testing.T) {
	err := handshakeWith(t, append(zmtpGreeting(), readyCommand(Pub)...), true, 2*time.Second)
	if strings.Contains(err.Error(), "could not") {
		t.Errorf("err = %v, want zmq4's steps left out", err)
	}
	if !strings.Contains(err.Error(), "not compatible") {
		t.Errorf("err = %v, want the incompatible socket types named", err)
	}
}

func TestHandshakeErrorMechanism(t *testing.T) {
	for _, tc := range []struct {
		mechanism string
		want      string
	}{
		{"PLAIN", "the peer uses PLAIN and this endpoint NULL"},
		{"CURVE", "the peer uses the CURVE security mechanism"},
	} {
		greeting := zmtpGreeting()
		copy(greeting[12:32], make([]byte, 20))
		copy(greeting[12:], tc.mechanism)
		err := handshakeWith(t, greeting, false, 2*time.Second)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.mechanism, err, tc.want)
		}
		if strings.Contains(err.Error(), "could not") {
			t.Errorf("%s: err = %v, want zmq4's steps left out", tc.mechanism, err)
		}
	}
}

func TestHandshakeErrorZMTP2NamesNoMechanism(t *testing.T) {
	// A ZMTP 2.0 greeting is 12 bytes, and its identity frame follows: the
	// bytes where a ZMTP 3 greeting names its mechanism are that frame.
	greeting := zmtpGreeting()
	greeting[10], greeting[11] = 1, 5
	copy(greeting[12:32], append([]byte{0, 20}, "PLAINLOOKINGIDENTITY"...))
	err := handshakeWith(t, greeting, false, 2*time.Second)
	if strings.Contains(err.Error(), "security mechanism") || strings.Contains(err.Error(), "the peer uses") {
		t.Errorf("err = %v, want no mechanism read from a ZMTP 2.0 stream", err)
	}
}

// TestHandshakeErrorSignatureOnly sends what libzmq sends before it
// closes on a security mechanism other than its own: its signature alone.
func TestHandshakeErrorSignatureOnly(t *testing.T) {
	err := handshakeWith(t, zmtpGreeting()[:10], false, 2*time.Second)
	if !strings.Contains(err.Error(), "after its ZMTP signature") || !strings.Contains(err.Error(), "NULL") {
		t.Errorf("err = %v, want a close after the signature with this endpoint's mechanism named", err)
	}
}

// TestHandshakeErrorResetNamesNoMechanism resets the connection after the
// signature, as a peer that crashes or closes with SO_LINGER 0 does.
// libzmq closes with a FIN when the mechanisms differ, so a reset must
// not be reported as a mismatch.
func TestHandshakeErrorResetNamesNoMechanism(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := peer.Write(zmtpGreeting()[:10]); err != nil {
		t.Fatal(err)
	}
	if err := peer.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	peer.Close()

	_, err = open(raw, Router, true, time.Now().Add(2*time.Second), 2*time.Second, "", "")
	if err == nil {
		t.Fatal("handshake succeeded")
	}
	if !strings.Contains(err.Error(), "reset the connection during the handshake") {
		t.Errorf("err = %v, want a reset during the handshake", err)
	}
	if strings.Contains(err.Error(), "mechanism") {
		t.Errorf("err = %v, want no security mechanism blamed for a reset", err)
	}
}

// TestHandshakeErrorResetAfterSignature covers the other timing of the
// same reset: the signature was read before the reset arrived.
func TestHandshakeErrorResetAfterSignature(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	err := handshakeError(fmt.Errorf("zmq4: could not read ZMTP greeting: %w", reset), zmtpGreeting()[:10], "NULL", time.Second)
	if !strings.Contains(err.Error(), "reset the connection during the handshake") {
		t.Errorf("err = %v, want a reset during the handshake", err)
	}
	if strings.Contains(err.Error(), "mechanism") {
		t.Errorf("err = %v, want no security mechanism blamed for a reset", err)
	}
}
