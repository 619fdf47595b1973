package common

import (
	"errors"
	"fmt"
	"io/fs"
	"net"

	"msgsys/lang"
	"msgsys/proto"
)

// StartFailure is the kind of failure of a StartError.
type StartFailure int

const (
	// OpenFailed is a failure to bind a port or to open a file.
	OpenFailed StartFailure = iota
	// CreateFailed is a failure to create a directory.
	CreateFailed
	// Locked is a data directory whose file another process holds open.
	Locked
	// InvalidEndpoint is an endpoint that is not tcp://HOST:PORT. An
	// OpenFailed error whose Err is an invalid endpoint reads as one too.
	InvalidEndpoint
	// Damaged is a data directory whose data is damaged and cannot be
	// rebuilt from what the directory holds. Target is the directory.
	Damaged
)

// StartError is a role's failure to open, as it starts, a port that it
// binds or its data directory. Its Error is the English text of logs and
// of --lang en: Context, then Err. Describe words it in Portuguese for the
// last line that main prints, such as "broker: não foi possível abrir a
// porta de clientes tcp://127.0.0.1:5555: endereço já em uso".
type StartError struct {
	Role    string       // command name that starts the Portuguese text, such as "broker"
	Context string       // English text in front of Err, such as "broker: frontend"
	Failure StartFailure // kind of failure
	// Resource is the Portuguese noun phrase of the port or data that
	// failed, such as "a porta de clientes".
	Resource string
	Target   string // endpoint or path that failed
	Holder   string // Portuguese name of the likely other process for Locked, such as "outro servidor"
	Err      error  // cause, such as the error of proto.Listen
	// Hint is the English advice to the operator that Error adds in
	// brackets after Err. Describe words it for Damaged in Portuguese.
	Hint string
}

func (e *StartError) Error() string {
	text := e.Err.Error()
	if e.Context != "" {
		text = e.Context + ": " + text
	}
	if e.Hint != "" {
		text += " (" + e.Hint + ")"
	}
	return text
}

func (e *StartError) Unwrap() error { return e.Err }

// Describe returns the error's text in language l. English is Error.
func (e *StartError) Describe(l string) string {
	if l == lang.EN {
		return e.Error()
	}
	failure := e.Failure
	if failure == OpenFailed && isInvalidEndpoint(e.Err) {
		failure = InvalidEndpoint
	}
	switch failure {
	case CreateFailed:
		return fmt.Sprintf("%s: não foi possível criar %s %s: %s", e.Role, e.Resource, e.Target, e.reason())
	case Locked:
		return fmt.Sprintf("%s: %s %s está em uso por outro processo, provavelmente %s com o mesmo --data", e.Role, e.Resource, e.Target, e.Holder)
	case InvalidEndpoint:
		return fmt.Sprintf("%s: endpoint inválido para %s: %q (use tcp://HOST:PORTA)", e.Role, e.Resource, e.Target)
	case Damaged:
		return fmt.Sprintf("%s: %s em %s está danificado, e o log de escrita antecipada não tem o necessário para reconstruí-lo. "+
			"Mova ou apague o diretório %s: ao iniciar, o servidor copia todos os dados de outro servidor que esteja no ar", e.Role, e.Resource, e.Target, e.Target)
	}
	return fmt.Sprintf("%s: não foi possível abrir %s %s: %s", e.Role, e.Resource, e.Target, e.reason())
}

// reason is the end of the Portuguese text: the error of the operating
// system in Err, after the path it concerns when that is not Target. An
// error that lang does not describe keeps the English text of the
// innermost path or network error, or else of Err.
func (e *StartError) reason() string {
	var path *fs.PathError
	var op *net.OpError
	isPath := errors.As(e.Err, &path)
	isNet := errors.As(e.Err, &op)

	reason, ok := lang.SystemReason(e.Err, lang.PT)
	switch {
	case ok && isPath && path.Path != e.Target:
		return path.Path + ": " + reason
	case ok:
		// A network error's address is the endpoint's host and port.
		return reason
	case isPath:
		return path.Error()
	case isNet:
		return op.Error()
	}
	return e.Err.Error()
}

// isInvalidEndpoint reports whether err is the failure of an endpoint that
// is not tcp://HOST:PORT. The net package reports a missing or invalid
// port as an AddrError, and proto reports any scheme other than tcp://.
func isInvalidEndpoint(err error) bool {
	var addr *net.AddrError
	return errors.Is(err, proto.ErrNotTCP) || errors.As(err, &addr)
}

// ExitStartFailed is the exit status of a command that cannot start with
// the settings it was given. That is a usage error of any command, or a
// start failure that a role or msgsys up returns as a StartError or marks
// with StartFailed, such as an invalid flag value or a locked data
// directory.
// Starting it again with the same settings fails the same way until a
// person changes them or stops the other process. So msgsys up stops the
// cluster when a child exits with it at its first start, and leaves down a
// child that exits with it after a restart. A systemd unit can list it in
// RestartPreventExitStatus. It is EX_CONFIG of sysexits.h.
const ExitStartFailed = 78

// startFailed is an error marked by StartFailed.
type startFailed struct{ err error }

func (e *startFailed) Error() string { return e.err.Error() }

func (e *startFailed) Unwrap() error { return e.err }

// StartFailed marks err as a failure to start with the command's
// settings, for which main exits with ExitStartFailed. The error keeps its
// text, and lang.Describe still finds the errors it wraps. StartFailed
// returns nil for nil.
func StartFailed(err error) error {
	if err == nil {
		return nil
	}
	return &startFailed{err: err}
}

// IsStartFailure reports whether err is a failure to start: a StartError,
// or an error that StartFailed marked.
func IsStartFailure(err error) bool {
	var start *StartError
	var marked *startFailed
	return errors.As(err, &start) || errors.As(err, &marked)
}
