package broker

import (
	"errors"
	"time"
	"unicode/utf8"

	"msgsys/lang"
	"msgsys/proto"
)

// errorReply is the data of the broker's own error replies. It carries the
// reason under both "description" and "message": clients of publish and
// message read "message", and clients of every other service read
// "description".
type errorReply struct {
	Status      string `msgpack:"status"`
	Description string `msgpack:"description"`
	Message     string `msgpack:"message"`
	// Retry marks a failure after which the same request, sent again,
	// may succeed at once on another server.
	Retry     bool   `msgpack:"retry,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// maxServiceBytes bounds the service name an error reply repeats. Every
// service name of the protocol is far shorter, and a longer one gets "error".
const maxServiceBytes = 64

// MaxRequestBytes bounds a request the broker forwards. No valid request
// comes near it, and forwarding larger ones would let a few clients fill
// the broker's and the servers' memory; they get an error reply instead.
const MaxRequestBytes = 1 << 20

var errTooLarge = errors.New("broker: request too large")

// maxDecodedErrorBytes is the largest request that errorPayload decodes
// whole. Decoding a request of a megabyte only to reply an error leaves a
// megabyte of garbage per rejected request under a flood of them, so
// larger ones are only peeked at for their service and language.
const maxDecodedErrorBytes = 64 << 10

// failureTexts are the descriptions of each failure, for people.
var failureTexts = map[failure]lang.Text{
	failNoServer: {
		PT: "nenhum servidor disponível no momento, tente novamente",
		EN: "no server is available right now, try again",
	},
	failTimeout: {
		PT: "o servidor não respondeu a tempo, tente novamente",
		EN: "the server did not reply in time, try again",
	},
	// The text names the broker's limit, because a server behind it may
	// reject a smaller request with its own limit (64 KiB for msgsys).
	failTooLarge: {
		PT: "requisição grande demais: o broker encaminha no máximo " + lang.Size(MaxRequestBytes),
		EN: "request too large: the broker forwards at most " + lang.Size(MaxRequestBytes),
	},
	failDisconnected: {
		PT: "o servidor se desconectou antes de responder, tente novamente",
		EN: "the server disconnected before replying, try again",
	},
}

// textKeyRejected follows failNoServer's text while servers fail their
// handshake over the cluster key, a cause otherwise shown only in logs.
var textKeyRejected = lang.Text{
	PT: "(o broker está recusando servidores pela chave do cluster: defina a mesma --cluster-key, ou MSGSYS_CLUSTER_KEY, no broker e nos servidores)",
	EN: "(the broker is rejecting servers over the cluster key: set the same --cluster-key, or MSGSYS_CLUSTER_KEY, on the broker and the servers)",
}

// keyRejectedWithin is the age up to which a key failure at the server
// side adds textKeyRejected. A msgsys server redials at least once a
// second, so a misconfigured one fails again well within it.
const keyRejectedWithin = time.Minute

// fail sends req's client an error reply for reason, with the request's
// envelope so that it reaches the right request.
func (b *Broker) fail(req *request, reason failure) {
	payload := b.errorPayload(req.payload, reason)
	if payload == nil {
		return
	}
	msg := make([][]byte, 0, req.envLen+2)
	msg = append(msg, req.frames[1:1+req.envLen]...)
	msg = append(msg, []byte{}, payload)
	b.deliver(req.client, msg)
}

// errorPayload encodes the error reply to the request frame body. The
// reply repeats the request's service name when the request has a
// readable one, and uses "error" otherwise. A request that decodes
// advances the broker's Lamport clock.
func (b *Broker) errorPayload(body []byte, reason failure) []byte {
	service := proto.ServiceError
	var env proto.Envelope
	err := errTooLarge
	requested := ""
	if len(body) <= maxDecodedErrorBytes {
		env, err = proto.Decode(body)
	} else {
		// Too large to decode cheaply, but a client still finds the
		// reason under its service's key, in its language.
		env.Service, _ = proto.PeekService(body)
		requested = proto.PeekLang(body)
	}
	if env.Service != "" && len(env.Service) <= maxServiceBytes && utf8.ValidString(env.Service) {
		service = env.Service
	}
	if err == nil {
		// A bad clock does not matter here: the reply is an error anyway.
		_, _ = b.cfg.Clocks.Witness(env.Data)
		// A msgsys client names the language it shows text in.
		requested, _, _ = env.Data.OptString("lang")
	}
	l := lang.Requested(requested, b.cfg.Lang)

	text := failureTexts[reason].In(l)
	if reason == failNoServer && b.backend != nil && b.backend.KeyFailedSince(time.Now().Add(-keyRejectedWithin)) {
		text += " " + textKeyRejected.In(l)
	}
	// A request whose server went away or stalled reached no server that
	// replied, and the broker sends a new one elsewhere.
	retry := reason == failDisconnected || reason == failTimeout
	data := errorReply{Status: proto.StatusError, Description: text, Message: text, Retry: retry}
	payload, err := proto.Encode(service, &data, b.cfg.Clocks.Meta())
	if err != nil {
		b.log.Error("encoding error reply failed", "service", service, "err", err)
		return nil
	}
	return payload
}
