package client

import (
	"errors"
	"fmt"
	"log/slog"

	"msgsys/lang"
	"msgsys/proto"
)

// Kinds of failure a Session reports. Every error a Session returns is an
// *Error whose Kind is one of these, so callers test it with errors.Is,
// except the context's own error when the caller's context ends.
var (
	// ErrUnavailable means no reply arrived: the broker is down, the
	// request timed out, or the connection dropped. Retrying later may work.
	ErrUnavailable = errors.New("client: broker unavailable")
	// ErrRejected means the reply has an error status.
	ErrRejected = errors.New("client: request rejected")
	// ErrInvalid means the input failed local validation and nothing was
	// sent.
	ErrInvalid = errors.New("client: invalid input")
	// ErrNotLoggedIn means the request needs a user and the session has
	// none yet.
	ErrNotLoggedIn = errors.New("client: not logged in")
	// ErrBadReply means the reply could not be read.
	ErrBadReply = errors.New("client: invalid reply")
)

// Error is a failed Session call. Error() returns Text, the explanation
// for people in the session's language; logs get the kind and the cause in
// English through LogValue.
type Error struct {
	Kind  error  // one of ErrUnavailable, ErrRejected, ErrInvalid, ErrNotLoggedIn, ErrBadReply
	Text  string // for people, in the session's language
	Cause error  // the underlying error, or nil
}

func (e *Error) Error() string { return e.Text }

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// LogValue renders the error for slog in English, with the server's own
// text when it rejected the request.
func (e *Error) LogValue() slog.Value {
	switch {
	case e.Cause != nil:
		return slog.StringValue(fmt.Sprintf("%v: %v", e.Kind, e.Cause))
	case errors.Is(e.Kind, ErrRejected):
		return slog.StringValue(fmt.Sprintf("%v: %s", e.Kind, e.Text))
	default:
		return slog.StringValue(e.Kind.Error())
	}
}

// newError builds an *Error whose text is message in language l.
func newError(kind error, cause error, l string, message lang.Text, args ...any) *Error {
	return &Error{Kind: kind, Text: fmt.Sprintf(message.In(l), args...), Cause: cause}
}

// unavailable turns a transport error into the message people see.
func (s *Session) unavailable(err error) error {
	if errors.Is(err, proto.ErrTimeout) {
		return newError(ErrUnavailable, err, s.lang, textTimedOut, s.timeout)
	}
	// A broker that is stopped, such as by SIGSTOP, or overloaded still
	// has its kernel accept the TCP connection, but never replies to the
	// ZMTP greeting.
	var silent *proto.HandshakeTimeoutError
	if errors.As(err, &silent) {
		return newError(ErrUnavailable, err, s.lang, textNoHandshake, s.broker, silent.Limit)
	}
	return newError(ErrUnavailable, err, s.lang, textUnreachable, s.broker)
}

// invalidName explains why a user or channel name was refused locally.
func invalidName(l, name string, err error) error {
	switch {
	case errors.Is(err, proto.ErrNameEmpty):
		return newError(ErrInvalid, err, l, textNameEmpty)
	case errors.Is(err, proto.ErrNameTooLong):
		return newError(ErrInvalid, err, l, textNameTooLong, name, proto.MaxNameRunes)
	case errors.Is(err, proto.ErrNameReserved):
		return newError(ErrInvalid, err, l, textNameReserved, name)
	case errors.Is(err, proto.ErrNameNotUTF8):
		return newError(ErrInvalid, err, l, textNameNotUTF8)
	default:
		return newError(ErrInvalid, err, l, textNameChars, name)
	}
}

// invalidText explains why a message text was refused locally. Nothing
// is ever cut to fit: text over the limit is refused whole.
func invalidText(l, text string, err error) error {
	switch {
	case errors.Is(err, proto.ErrTextEmpty):
		return newError(ErrInvalid, err, l, textTextEmpty)
	case errors.Is(err, proto.ErrTextTooLong):
		return newError(ErrInvalid, err, l, textTextTooLong, len(text), proto.MaxTextBytes)
	case errors.Is(err, proto.ErrTextNotUTF8):
		return newError(ErrInvalid, err, l, textTextNotUTF8)
	default:
		return newError(ErrInvalid, err, l, textTextControl)
	}
}
