package proto

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
	"github.com/go-zeromq/zmq4/security/plain"
)

// A cluster key makes a listener, such as a server's server-to-server
// endpoint or the proxy's publisher side, accept only connections that
// present it with ZeroMQ's PLAIN mechanism (ZMTP 3.0, RFC 24). The key is
// PLAIN's password, and msgsys sends keyUser as the user name. libzmq peers connect with ZMQ_PLAIN_USERNAME and
// ZMQ_PLAIN_PASSWORD set. PLAIN sends the key in clear, so it keeps out
// processes that do not know it, not those that can read the traffic.
// zmq4's own PLAIN server accepts every password, hence plainServer.

// keyUser is the PLAIN user name msgsys sends. Servers ignore the name.
const keyUser = "msgsys"

// MaxKeyBytes is the maximum length of a cluster key. PLAIN's HELLO
// command sends the password after a one-byte length (RFC 24), and zmq4
// v0.17 writes a longer password's length modulo 256, so a server rejects
// every longer key as wrong. An empty key selects the NULL mechanism.
const MaxKeyBytes = 255

// ErrBadKey is the error of a PLAIN handshake whose client presented
// another cluster key.
var ErrBadKey = errors.New("proto: the peer's cluster key is wrong")

// ErrKeyMismatch is the error of a handshake where one side requires or
// presents a cluster key and the other does not.
var ErrKeyMismatch = errors.New("proto: one side of the connection has a cluster key and the other none: set --cluster-key or MSGSYS_CLUSTER_KEY alike on both")

// keyError names the handshake errors that a cluster key causes, which
// zmq4 reports in words only.
func keyError(err error) error {
	switch text := err.Error(); {
	case errors.Is(err, ErrBadKey):
		return err
	case strings.Contains(text, "unsupported security mechanism"):
		return fmt.Errorf("%w (%w)", ErrKeyMismatch, err)
	case strings.Contains(text, "expected a WELCOME command"):
		// The server replied to HELLO with ERROR: it rejected the key.
		// zmq4's own text adds nothing but a formatting error.
		return ErrBadKey
	}
	return err
}

// security returns the mechanism of a connection that presents key as a
// client or requires it as a server. Without a key it is NULL.
func security(key string, server bool) zmq4.Security {
	switch {
	case key == "":
		return null.Security()
	case server:
		return plainServer{key: []byte(key)}
	default:
		return plain.Security(keyUser, key)
	}
}

// plainServer is the server side of PLAIN that accepts one password.
type plainServer struct {
	key []byte
}

func (plainServer) Type() zmq4.SecurityType { return zmq4.PlainSecurity }

// Handshake reads the client's HELLO, checks its password and completes
// the exchange of metadata: WELCOME, INITIATE, READY.
func (s plainServer) Handshake(conn *zmq4.Conn, _ bool) error {
	cmd, err := conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("proto: PLAIN HELLO not received: %w", err)
	}
	if cmd.Name != zmq4.CmdHello {
		return fmt.Errorf("proto: PLAIN expected HELLO, got %q", cmd.Name)
	}
	if password, ok := helloPassword(cmd.Body); !ok || subtle.ConstantTimeCompare(password, s.key) != 1 {
		reason := "invalid cluster key"
		_ = conn.SendCmd(zmq4.CmdError, append([]byte{byte(len(reason))}, reason...))
		return ErrBadKey
	}
	if err := conn.SendCmd(zmq4.CmdWelcome, nil); err != nil {
		return fmt.Errorf("proto: PLAIN WELCOME not sent: %w", err)
	}

	cmd, err = conn.RecvCmd()
	if err != nil {
		return fmt.Errorf("proto: PLAIN INITIATE not received: %w", err)
	}
	if cmd.Name != zmq4.CmdInitiate {
		return fmt.Errorf("proto: PLAIN expected INITIATE, got %q", cmd.Name)
	}
	if err := conn.Peer.Meta.UnmarshalZMTP(cmd.Body); err != nil {
		return fmt.Errorf("proto: PLAIN metadata: %w", err)
	}
	meta, err := conn.Meta.MarshalZMTP()
	if err != nil {
		return fmt.Errorf("proto: PLAIN metadata: %w", err)
	}
	return conn.SendCmd(zmq4.CmdReady, meta)
}

// helloPassword returns the password of a PLAIN HELLO body: a length byte
// and the user name, then a length byte and the password.
func helloPassword(body []byte) ([]byte, bool) {
	if len(body) < 1 || len(body) < 1+int(body[0])+1 {
		return nil, false
	}
	rest := body[1+int(body[0]):]
	n := int(rest[0])
	if len(rest) != 1+n {
		return nil, false
	}
	return rest[1:], true
}

// PLAIN does not encrypt.
func (plainServer) Encrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }
func (plainServer) Decrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }
