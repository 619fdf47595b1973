package status

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"msgsys/lang"
	"msgsys/proto"
)

// failure is an error explained for people in both languages. Error
// returns the English text, which logs and the JSON report's error field
// show. An argument that is a *failure or a systemError is rendered in the
// same language as the text around it.
type failure struct {
	text  lang.Text // format string for args
	args  []any
	cause error // the underlying error, or nil
}

func (f *failure) Error() string { return f.in(lang.EN) }

func (f *failure) Unwrap() error { return f.cause }

// in renders the failure in language l.
func (f *failure) in(l string) string {
	args := make([]any, len(f.args))
	for i, arg := range f.args {
		if inner, ok := arg.(interface{ in(string) string }); ok {
			args[i] = inner.in(l)
		} else {
			args[i] = arg
		}
	}
	return fmt.Sprintf(f.text.In(l), args...)
}

// localized is a failure for people: Error returns its text in lang.
// New and Collect return their errors as localized.
type localized struct {
	*failure
	lang string
}

func (e localized) Error() string { return e.in(e.lang) }

// explain turns the error of a request with the given timeout into a
// failure. A transport error gets a text in both languages, and any other
// error keeps its own text.
func explain(err error, timeout time.Duration) *failure {
	var f *failure
	var dial *net.OpError
	switch {
	case errors.As(err, &f):
		return f
	case errors.Is(err, proto.ErrTimeout):
		return &failure{text: textTimedOut, args: []any{timeout}, cause: err}
	case errors.Is(err, proto.ErrKeyMismatch):
		return &failure{text: textKeyMismatch, cause: err}
	case errors.Is(err, proto.ErrBadKey):
		return &failure{text: textBadKey, cause: err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &failure{text: textRefused, cause: err}
	case errors.Is(err, proto.ErrUnreachable) && errors.As(err, &dial):
		// The operating system's reason, such as "connect: connection
		// refused", without proto's prefixes.
		return &failure{text: textCannotConnect, args: []any{systemError{dial.Err}}, cause: err}
	case errors.Is(err, proto.ErrUnreachable):
		return &failure{text: textCannotConnect, args: []any{systemError{err}}, cause: err}
	case errors.Is(err, proto.ErrClosed):
		return &failure{text: textClosed, cause: err}
	default:
		return &failure{text: lang.Text{PT: "%v", EN: "%v"}, args: []any{err}, cause: err}
	}
}

// systemError is an error of the operating system as an argument of a
// failure, described in the failure's language (lang.SystemError).
type systemError struct{ err error }

func (e systemError) in(l string) string { return lang.SystemError(e.err, l) }
