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
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		var dns *net.DNSError
		if errors.As(err, &dns) && dns.IsNotFound {
			return "nome de máquina desconhecido: " + dns.Name
		}
		return err.Error()
	}
	text, ok := systemTexts[errno]
	if !ok {
		return err.Error()
	}

	var path *fs.PathError
	var op *net.OpError
	switch {
	case errors.As(err, &path):
		return path.Path + ": " + text
	case errors.As(err, &op) && op.Addr != nil:
		return op.Addr.String() + ": " + text
	}
	return text
}

// Describe is err's text in language l with the innermost error of the
// operating system described as SystemError does, keeping the context that
// the wrapping errors add in front of it, such as "server: data directory:
// /data: permissão negada". Other errors keep their text.
func Describe(err error, l string) string {
	text := err.Error()
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
	described := SystemError(inner, l)
	if described == inner.Error() || !strings.HasSuffix(text, inner.Error()) {
		return text
	}
	return strings.TrimSuffix(text, inner.Error()) + described
}
