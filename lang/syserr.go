package lang

import (
	"errors"
	"io/fs"
	"net"
	"strings"
	"syscall"
)

// systemTexts describes in Portuguese the errors of the operating system
// that commands meet when they start, stop or inspect servers. English
// uses the system's own text.
var systemTexts = map[syscall.Errno]string{
	syscall.ENOENT:        "arquivo ou diretório inexistente",
	syscall.EACCES:        "permissão negada",
	syscall.EPERM:         "operação não permitida",
	syscall.ENOTDIR:       "não é um diretório",
	syscall.EISDIR:        "é um diretório",
	syscall.EEXIST:        "o arquivo já existe",
	syscall.ENOSPC:        "não há espaço livre no dispositivo",
	syscall.EROFS:         "sistema de arquivos somente para leitura",
	syscall.EIO:           "erro de entrada e saída",
	syscall.EMFILE:        "arquivos abertos demais",
	syscall.ECONNREFUSED:  "conexão recusada",
	syscall.ECONNRESET:    "conexão encerrada pelo outro lado",
	syscall.EPIPE:         "conexão encerrada pelo outro lado",
	syscall.ETIMEDOUT:     "tempo de conexão esgotado",
	syscall.EHOSTUNREACH:  "máquina inalcançável",
	syscall.ENETUNREACH:   "rede inalcançável",
	syscall.EADDRINUSE:    "endereço já em uso",
	syscall.EADDRNOTAVAIL: "endereço indisponível nesta máquina",
}

// SystemError describes err in language l. An error of the operating
// system listed in systemTexts becomes the path or address it concerns
// followed by its description in l. Any other error keeps its own text.
func SystemError(err error, l string) string {
	if l == EN {
		return err.Error()
	}
	reason, ok := SystemReason(err, l)
	if !ok {
		return err.Error()
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		// An unknown host: the reason names it.
		return reason
	}

	var path *fs.PathError
	var op *net.OpError
	switch {
	case errors.As(err, &path):
		return path.Path + ": " + reason
	case errors.As(err, &op) && op.Addr != nil:
		return op.Addr.String() + ": " + reason
	}
	return reason
}

// SystemReason describes in language l the error of the operating system
// that err wraps, without the path or address it concerns, such as
// "endereço já em uso". A host name that the resolver does not know gives
// "nome de máquina desconhecido: HOST". ok is false for any other error,
// such as an errno that systemTexts does not list. In English the reason
// is the error's own text.
func SystemReason(err error, l string) (reason string, ok bool) {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if l == EN {
			return errno.Error(), true
		}
		reason, ok = systemTexts[errno]
		return reason, ok
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		if l == EN {
			return dns.Error(), true
		}
		return "nome de máquina desconhecido: " + dns.Name, true
	}
	return "", false
}

// Describer is an error that words itself for people, such as a role's
// start-up error, whose Portuguese text is more than a translation of its
// English one.
type Describer interface {
	error
	// Describe returns the error's text in language l.
	Describe(l string) string
}

// Describe is err's text in language l. The outermost Describer in err
// describes itself, in either language. Else, in Portuguese, the innermost
// error of the operating system is described as SystemError does. Either
// way the context that the wrapping errors add in front stays, such as
// "server: data directory: /data: permissão negada". Other errors keep
// their text.
func Describe(err error, l string) string {
	text := err.Error()
	var describer Describer
	if errors.As(err, &describer) {
		return replaceSuffix(text, describer.Error(), describer.Describe(l))
	}
	if l == EN {
		return text
	}

	var path *fs.PathError
	var op *net.OpError
	var inner error
	switch {
	case errors.As(err, &path):
		inner = path
	case errors.As(err, &op):
		inner = op
	default:
		return text
	}
	return replaceSuffix(text, inner.Error(), SystemError(inner, l))
}

// replaceSuffix returns text with its end old replaced by described, or
// text unchanged when it does not end with old, as when a wrapping error
// wrote the inner one in the middle of its own text.
func replaceSuffix(text, old, described string) string {
	if described == old || !strings.HasSuffix(text, old) {
		return text
	}
	return strings.TrimSuffix(text, old) + described
}
