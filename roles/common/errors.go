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
	// NameInUse is a server name that another running server uses.
	// Target is that server's endpoint, and Name the name.
	NameInUse
)

// Resource is the port or the data that a StartError concerns. Its noun
// phrase in each language is in resourceTexts.
type Resource int

const (
	// DataDirectory is a role's --data directory.
	DataDirectory Resource = iota + 1
	// Database is a server's store file, server.db.
	Database
	// RegistrationFile is the reference's file of registered servers.
	RegistrationFile
	// PeerPort is a server's server-to-server endpoint.
	PeerPort
	// ServerPort is the endpoint that servers connect to, on the
	// reference and on the broker.
	ServerPort
	// ClientPort is the broker's endpoint for clients.
	ClientPort
	// PublisherPort is the proxy's endpoint for publishers.
	PublisherPort
	// SubscriberPort is the proxy's endpoint for subscribers.
	SubscriberPort
)

// Holder is the process that most likely holds a Locked data directory.
type Holder int

const (
	// AnotherServer is a server started with the same --data.
	AnotherServer Holder = iota + 1
	// AnotherReference is a reference started with the same --data.
	AnotherReference
)

// Noun phrases of Resource and Holder values, indexed by the value.
var (
	resourceTexts = [...]lang.Text{
		DataDirectory:    {PT: "o diretório de dados", EN: "the data directory"},
		Database:         {PT: "o banco de dados", EN: "the database"},
		RegistrationFile: {PT: "o arquivo de registros", EN: "the registration file"},
		PeerPort:         {PT: "a porta entre servidores", EN: "the server-to-server port"},
		ServerPort:       {PT: "a porta de servidores", EN: "the server port"},
		ClientPort:       {PT: "a porta de clientes", EN: "the client port"},
		PublisherPort:    {PT: "a porta de publicadores", EN: "the publisher port"},
		SubscriberPort:   {PT: "a porta de assinantes", EN: "the subscriber port"},
	}
	holderTexts = [...]lang.Text{
		AnotherServer:    {PT: "outro servidor", EN: "another server"},
		AnotherReference: {PT: "outra referência", EN: "another reference"},
	}
)

// In returns the noun phrase of r in language l, such as "a porta de
// clientes", or "" for a value without one.
func (r Resource) In(l string) string {
	if r <= 0 || int(r) >= len(resourceTexts) {
		return ""
	}
	return resourceTexts[r].In(l)
}

// In returns the noun phrase of h in language l, such as "outro
// servidor", or "" for a value without one.
func (h Holder) In(l string) string {
	if h <= 0 || int(h) >= len(holderTexts) {
		return ""
	}
	return holderTexts[h].In(l)
}

// StartError is a role's failure to open, as it starts, a port that it
// binds or its data directory. Its Error is the English text of logs:
// Context, then Err. Describe words it for people, such as "broker:
// cannot open the client port tcp://127.0.0.1:5555: address already in
// use" or, in Portuguese, "broker: não foi possível abrir a porta de
// clientes tcp://127.0.0.1:5555: endereço já em uso".
type StartError struct {
	Role     string       // command name that starts the worded text, such as "broker"
	Context  string       // English text in front of Err, such as "broker: frontend"
	Failure  StartFailure // kind of failure
	Resource Resource     // port or data that failed
	Target   string       // endpoint or path that failed
	Holder   Holder       // likely other process for Locked
	Name     string       // the name in use, for NameInUse
	Err      error        // cause, such as the error of proto.Listen
	// Hint is the English advice to the operator that Error adds in
	// brackets after Err. Describe words it for Damaged in Portuguese,
	// and returns Error for Damaged in English.
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

// Texts of StartError.Describe by failure. The verbs are the role, the
// resource's noun phrase and the target, then the reason or the holder.
var (
	textInvalidEndpoint = lang.Text{
		PT: "%s: endpoint inválido para %s: %q (use tcp://HOST:PORTA)",
		EN: "%s: invalid endpoint for %s: %q (use tcp://HOST:PORT)",
	}
	textCreateFailed = lang.Text{
		PT: "%s: não foi possível criar %s %s: %s",
		EN: "%s: cannot create %s %s: %s",
	}
	textOpenFailed = lang.Text{
		PT: "%s: não foi possível abrir %s %s: %s",
		EN: "%s: cannot open %s %s: %s",
	}
	textLocked = lang.Text{
		PT: "%s: %s %s está em uso por outro processo, provavelmente %s com o mesmo --data",
		EN: "%s: %s %s is in use by another process, probably %s with the same --data",
	}
	textNameInUse = lang.Text{
		PT: "%s: o nome %q já é usado por outro servidor em execução em %s; dê a cada servidor o seu próprio --name",
		EN: "%s: the name %q is used by another server running at %s; give each server its own --name",
	}
	// textDamaged takes the target twice: the store's directory. English
	// uses Error, which names what the log lacks.
	textDamaged = lang.Text{
		PT: "%s: %s em %s está danificado, e o log de escrita antecipada não tem o necessário para reconstruí-lo. " +
			"Mova ou apague o diretório %s: ao iniciar, o servidor copia todos os dados de outro servidor que esteja no ar",
	}
)

// Describe returns the error's text in language l.
func (e *StartError) Describe(l string) string {
	failure := e.Failure
	if failure == OpenFailed && isInvalidEndpoint(e.Err) {
		failure = InvalidEndpoint
	}
	resource := e.Resource.In(l)
	switch failure {
	case InvalidEndpoint:
		return fmt.Sprintf(textInvalidEndpoint.In(l), e.Role, resource, e.Target)
	case CreateFailed:
		return fmt.Sprintf(textCreateFailed.In(l), e.Role, resource, e.Target, e.reason(l))
	case Locked:
		return fmt.Sprintf(textLocked.In(l), e.Role, resource, e.Target, e.Holder.In(l))
	case NameInUse:
		return fmt.Sprintf(textNameInUse.In(l), e.Role, e.Name, e.Target)
	case Damaged:
		if l == lang.EN {
			// Error names what the log lacks, such as the missing
			// segments, and gives the Hint.
			return e.Error()
		}
		return fmt.Sprintf(textDamaged.PT, e.Role, resource, e.Target, e.Target)
	}
	return fmt.Sprintf(textOpenFailed.In(l), e.Role, resource, e.Target, e.reason(l))
}

// reason is the end of the text in language l: the error of the operating
// system in Err, after the path it concerns when that is not Target. An
// error that lang does not describe keeps the English text of the
// innermost path or network error, or else of Err.
func (e *StartError) reason(l string) string {
	var path *fs.PathError
	var op *net.OpError
	isPath := errors.As(e.Err, &path)
	isNet := errors.As(e.Err, &op)

	reason, ok := lang.SystemReason(e.Err, l)
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
