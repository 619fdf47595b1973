package reference

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"msgsys/lang"
	"msgsys/proto"
)

// MaxAddrBytes bounds the addr field of rank and heartbeat requests.
const MaxAddrBytes = 256

// rejection is a request that gets an error reply.
type rejection struct {
	service string    // service name of the error reply
	text    lang.Text // description for people
	cause   error     // underlying error for the log, nil when text describes the whole problem
}

func newRejection(service string, text lang.Text, cause error) *rejection {
	return &rejection{service: replyService(service), text: text, cause: cause}
}

// rejectDecode describes a payload that proto.Decode rejected. service is
// what Decode read of the service name, empty when it read nothing.
func rejectDecode(service string, err error) *rejection {
	var text lang.Text
	switch {
	case errors.Is(err, proto.ErrFrameTooLarge), errors.Is(err, proto.ErrMessageTooLarge):
		text = lang.Text{
			PT: "mensagem grande demais: o limite é " + lang.Size(proto.MaxFrameBytes),
			EN: "message too large: the limit is " + lang.Size(proto.MaxFrameBytes),
		}
	case errors.Is(err, proto.ErrTooDeep):
		text = lang.Text{
			PT: fmt.Sprintf("mensagem aninhada demais: no máximo %d níveis de mapas e listas", proto.MaxDepth),
			EN: fmt.Sprintf("message nested too deeply: at most %d levels of maps and arrays", proto.MaxDepth),
		}
	case errors.Is(err, proto.ErrKeyNotStr):
		text = lang.Text{
			PT: "as chaves dos mapas devem ser MessagePack str (texto), não bin nem outro tipo",
			EN: "map keys must be MessagePack str (text), not bin or another type",
		}
	case errors.Is(err, proto.ErrNotMap):
		text = lang.Text{PT: "a mensagem não é um mapa MessagePack", EN: "message is not a MessagePack map"}
	case errors.Is(err, proto.ErrNoService):
		text = lang.Text{PT: `campo "service" ausente`, EN: `missing field "service"`}
	case errors.Is(err, proto.ErrServiceType):
		text = lang.Text{PT: `campo "service" deve ser texto (MessagePack str)`, EN: `field "service" must be a string (MessagePack str)`}
	case errors.Is(err, proto.ErrNoData):
		text = lang.Text{PT: `campo "data" não é um mapa`, EN: `field "data" is not a map`}
	default:
		// Invalid or truncated MessagePack.
		text = lang.Text{
			PT: "a mensagem não pôde ser decodificada como MessagePack com chaves de texto",
			EN: "message could not be decoded as MessagePack with string keys",
		}
	}
	return newRejection(service, text, err)
}

// rejectFrameCount describes a message with a delimiter but not exactly
// one frame after it. frames is the number of frames after the delimiter.
func rejectFrameCount(frames int) *rejection {
	return newRejection(proto.ServiceError, lang.Text{
		PT: "requisição inválida: envie um único quadro depois do delimitador",
		EN: "invalid request: send one frame after the delimiter",
	}, fmt.Errorf("%d frames after the delimiter", frames))
}

// rejectUnknownService describes a request for a service the reference
// does not serve.
func rejectUnknownService(service string) *rejection {
	quoted := proto.QuoteShort(service)
	return newRejection(service, lang.Text{
		PT: fmt.Sprintf("serviço desconhecido %s, a referência atende apenas rank, list e heartbeat", quoted),
		EN: fmt.Sprintf("unknown service %s, the reference serves only rank, list and heartbeat", quoted),
	}, nil)
}

// rejectField describes a *proto.FieldError: a field that is missing or
// has the wrong type or value.
func rejectField(service string, err error) *rejection {
	var fe *proto.FieldError
	if !errors.As(err, &fe) {
		return newRejection(service, lang.Text{PT: "requisição inválida", EN: "invalid request"}, err)
	}
	var pt, en string
	switch fe.Reason {
	case proto.ReasonMissing:
		pt, en = "campo %q ausente", "missing field %q"
	case proto.ReasonNotText:
		pt, en = "campo %q deve ser texto", "field %q must be a string"
	case proto.ReasonBin:
		pt, en = "campo %q deve ser texto (str), não bin", "field %q must be str, not bin"
	case proto.ReasonNotUTF8:
		pt, en = "campo %q não é UTF-8 válido", "field %q is not valid UTF-8"
	case proto.ReasonNotInt:
		pt, en = "campo %q deve ser um número inteiro", "field %q must be an integer"
	case proto.ReasonNegative:
		pt, en = "campo %q não pode ser negativo", "field %q must not be negative"
	case proto.ReasonRange:
		pt, en = "campo %q fora do intervalo permitido", "field %q is out of range"
	default:
		pt, en = "campo %q inválido", "field %q is invalid"
	}
	return newRejection(service, lang.Text{PT: fmt.Sprintf(pt, fe.Field), EN: fmt.Sprintf(en, fe.Field)}, err)
}

// rejectName describes a server name that proto.NormalizeName rejected.
func rejectName(service, name string, err error) *rejection {
	var reason lang.Text
	switch {
	case errors.Is(err, proto.ErrNameEmpty):
		reason = lang.Text{PT: "está vazio", EN: "is empty"}
	case errors.Is(err, proto.ErrNameTooLong):
		reason = lang.Text{
			PT: fmt.Sprintf("tem mais de %d caracteres", proto.MaxNameRunes),
			EN: fmt.Sprintf("is longer than %d characters", proto.MaxNameRunes),
		}
	case errors.Is(err, proto.ErrNameChars):
		reason = lang.Text{PT: "deve ter apenas letras, dígitos, _, - e .", EN: "must contain only letters, digits, _, - and ."}
	case errors.Is(err, proto.ErrNameReserved):
		reason = lang.Text{PT: "é reservado", EN: "is reserved"}
	default:
		reason = lang.Text{PT: "não é válido", EN: "is not valid"}
	}
	quoted := proto.QuoteShort(name)
	return newRejection(service, lang.Text{
		PT: fmt.Sprintf("o nome de servidor %s %s", quoted, reason.PT),
		EN: fmt.Sprintf("server name %s %s", quoted, reason.EN),
	}, err)
}

// rejectStore describes a registration that could not be written.
func rejectStore(service string, err error) *rejection {
	return newRejection(service, lang.Text{
		PT: "falha ao gravar o registro do servidor, tente novamente",
		EN: "failed to store the server's registration, try again",
	}, err)
}

// rejectFull describes a new name that the registry has no room for.
// Registered names keep their ranks for good, so the registry never
// frees room by itself.
func rejectFull(service, name string, maxServers int, err error) *rejection {
	quoted := proto.QuoteShort(name)
	return newRejection(service, lang.Text{
		PT: fmt.Sprintf("registro cheio: a referência já tem o máximo de %d servidores registrados e recusa o nome novo %s. "+
			"Os nomes já registrados continuam aceitos, e o operador da referência pode aumentar --max-servers", maxServers, quoted),
		EN: fmt.Sprintf("registry full: the reference already has the maximum of %d registered servers and rejects the new name %s. "+
			"Registered names are still accepted, and the reference's operator can raise --max-servers", maxServers, quoted),
	}, err)
}

// readAddr returns the optional addr field: a server-to-server endpoint
// tcp://host:port of at most MaxAddrBytes, with a host other peers can
// connect to. An absent, nil or empty addr leaves the stored one unchanged
// and returns "".
func readAddr(service string, data proto.Data) (string, *rejection) {
	addr, ok, err := data.OptString("addr")
	if err != nil {
		return "", rejectField(service, err)
	}
	if !ok || addr == "" {
		return "", nil
	}
	if len(addr) > MaxAddrBytes {
		return "", newRejection(service, lang.Text{
			PT: fmt.Sprintf(`campo "addr" tem mais de %d bytes`, MaxAddrBytes),
			EN: fmt.Sprintf(`field "addr" is longer than %d bytes`, MaxAddrBytes),
		}, nil)
	}
	rest, ok := strings.CutPrefix(addr, "tcp://")
	if !ok {
		return "", newRejection(service, lang.Text{
			PT: fmt.Sprintf(`campo "addr" deve começar com tcp://, recebido %s`, proto.QuoteShort(addr)),
			EN: fmt.Sprintf(`field "addr" must start with tcp://, got %s`, proto.QuoteShort(addr)),
		}, nil)
	}
	if !connectable(rest) {
		return "", newRejection(service, lang.Text{
			PT: fmt.Sprintf(`campo "addr" deve ser tcp://host:porta, com um host alcançável (não *) e porta de 1 a 65535, recebido %s`, proto.QuoteShort(addr)),
			EN: fmt.Sprintf(`field "addr" must be tcp://host:port with a connectable host (not *) and a port from 1 to 65535, got %s`, proto.QuoteShort(addr)),
		}, nil)
	}
	return addr, nil
}

// connectable reports whether hostport is a host:port that a peer can dial:
// a non-empty host other than the bind wildcard "*", with no spaces or
// control characters, and a port from 1 to 65535.
func connectable(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" || host == "*" {
		return false
	}
	if strings.IndexFunc(host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}

// rejectLogLimit is how many rejections rejectLog writes per
// rejectLogWindow. A peer that floods the reference with bad requests
// would otherwise fill the log.
const (
	rejectLogLimit  = 20
	rejectLogWindow = time.Second
)

// rejectLog writes one log line per rejected request, up to rejectLogLimit
// per window, and counts the rest.
type rejectLog struct {
	log *slog.Logger

	mu         sync.Mutex // guards the fields below
	windowEnds time.Time
	written    int
	suppressed int
}

func (l *rejectLog) record(rej *rejection, peer string, clock uint64) {
	now := time.Now()
	l.mu.Lock()
	if now.After(l.windowEnds) {
		if l.suppressed > 0 {
			l.log.Warn("rejected requests not logged", "count", l.suppressed, "clock", clock)
		}
		l.windowEnds, l.written, l.suppressed = now.Add(rejectLogWindow), 0, 0
	}
	if l.written >= rejectLogLimit {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.written++
	l.mu.Unlock()

	attrs := []any{"service", rej.service, "peer", peer, "reason", rej.text.EN}
	if rej.cause != nil {
		attrs = append(attrs, "err", rej.cause)
	}
	attrs = append(attrs, "clock", clock)
	l.log.Warn("request rejected", attrs...)
}

// flush logs the count of rejections not logged in the current window.
func (l *rejectLog) flush(clock uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.suppressed > 0 {
		l.log.Warn("rejected requests not logged", "count", l.suppressed, "clock", clock)
		l.suppressed = 0
	}
}

// fullLog writes at most one line per second about new names that a full
// registry rejected, and the count of those it suppressed once that
// second has passed. A flood of new names would otherwise take every line of
// rejectLog's window and leave the count unwritten until the next one.
type fullLog struct {
	log *slog.Logger

	mu         sync.Mutex // guards the fields below
	next       time.Time  // when record may write a line again
	suppressed int        // rejections not logged since the last line
}

func (l *fullLog) record(rej *rejection, peer string, maxServers int, clock uint64) {
	now := time.Now()
	l.mu.Lock()
	if now.Before(l.next) {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.next = now.Add(time.Second)
	suppressed := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()

	if suppressed > 0 {
		l.log.Warn("registry full rejections not logged", "count", suppressed, "clock", clock)
	}
	l.log.Warn("registration rejected, registry full", "service", rej.service, "peer", peer,
		"max_servers", maxServers, "err", rej.cause, "clock", clock)
}

// flush logs the count of rejections suppressed, once the second of the
// last line has passed or at once when force is set.
func (l *fullLog) flush(force bool, clock uint64) {
	l.mu.Lock()
	suppressed := 0
	if l.suppressed > 0 && (force || !time.Now().Before(l.next)) {
		suppressed = l.suppressed
		l.suppressed = 0
	}
	l.mu.Unlock()
	if suppressed > 0 {
		l.log.Warn("registry full rejections not logged", "count", suppressed, "clock", clock)
	}
}
