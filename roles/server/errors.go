package server

import (
	"errors"
	"fmt"

	"msgsys/lang"
	"msgsys/proto"
)

// Descriptions of rejected requests, in the languages people read them in.
var (
	textInvalidMessage     = lang.Text{PT: "mensagem inválida: não é um MessagePack legível", EN: "invalid message: not readable MessagePack"}
	textTooDeep            = lang.Text{PT: "mensagem inválida: aninhada demais, no máximo %d níveis de mapas e listas", EN: "invalid message: nested too deeply, at most %d levels of maps and arrays"}
	textKeyNotStr          = lang.Text{PT: "mensagem inválida: as chaves dos mapas devem ser MessagePack str (texto), não bin nem outro tipo", EN: "invalid message: map keys must be MessagePack str (text), not bin or another type"}
	textFrameCount         = lang.Text{PT: "requisição inválida: envie um único quadro depois do delimitador", EN: "invalid request: send one frame after the delimiter"}
	textUnknownService     = lang.Text{PT: "serviço desconhecido: ", EN: "unknown service: "}
	textNotMap             = lang.Text{PT: "mensagem inválida: a requisição não é um mapa MessagePack", EN: "invalid message: the request is not a MessagePack map"}
	textNoService          = lang.Text{PT: "requisição sem o campo service", EN: "request without a service field"}
	textServiceType        = lang.Text{PT: "o campo service deve ser texto (MessagePack str)", EN: "the service field must be text (MessagePack str)"}
	textNoData             = lang.Text{PT: "o campo data deve ser um mapa", EN: "the data field must be a map"}
	textFieldMissing       = lang.Text{PT: "campo obrigatório ausente: ", EN: "required field missing: "}
	textFieldType          = lang.Text{PT: "campo com tipo errado: ", EN: "field of the wrong type: "}
	textBadClock           = lang.Text{PT: "relógio lógico inválido: deve ser um inteiro de 0 a 2^53-1", EN: "invalid logical clock: it must be an integer from 0 to 2^53-1"}
	textBadTimestamp       = lang.Text{PT: "timestamp inválido: use ISO 8601 (2026-12-05T13:07:04.328Z) ou segundos Unix", EN: "invalid timestamp: use ISO 8601 (2026-12-05T13:07:04.328Z) or Unix seconds"}
	textIDTooLong          = lang.Text{PT: "id inválido: no máximo 64 bytes", EN: "invalid id: at most 64 bytes"}
	textNameEmpty          = lang.Text{PT: "nome vazio", EN: "empty name"}
	textNameTooLong        = lang.Text{PT: "nome longo demais: no máximo 32 caracteres", EN: "name too long: at most 32 characters"}
	textNameChars          = lang.Text{PT: "nome inválido: use só letras, dígitos, _, - e .", EN: "invalid name: use only letters, digits, _, - and ."}
	textNameReserved       = lang.Text{PT: "o nome %s é reservado para os anúncios de coordenador", EN: "the name %s is reserved for coordinator announcements"}
	textTextEmpty          = lang.Text{PT: "mensagem vazia", EN: "empty message"}
	textTextTooLong        = lang.Text{PT: "mensagem longa demais: no máximo 8192 bytes", EN: "message too long: at most 8192 bytes"}
	textTextControl        = lang.Text{PT: "a mensagem tem caracteres de controle", EN: "the message has control characters"}
	textTextUTF8           = lang.Text{PT: "texto não é UTF-8 válido", EN: "text is not valid UTF-8"}
	textUnknownUser        = lang.Text{PT: "usuário não encontrado: ", EN: "user not found: "}
	textUnknownChannel     = lang.Text{PT: "canal não encontrado: ", EN: "channel not found: "}
	textChannelExists      = lang.Text{PT: "canal já existe: ", EN: "channel already exists: "}
	textNoCoordinator      = lang.Text{PT: "eleição de coordenador em andamento, tente novamente", EN: "coordinator election in progress, try again"}
	textCoordinatorDown    = lang.Text{PT: "coordenador indisponível, tente novamente", EN: "coordinator unavailable, try again"}
	textCoordinatorResumed = lang.Text{PT: "o coordenador acabou de voltar de uma pausa, tente novamente em instantes", EN: "the coordinator has just resumed from a pause, try again in a moment"}
	textHistoryTarget      = lang.Text{PT: "informe channel, ou user e peer", EN: "give channel, or user and peer"}
	textHistoryBoth        = lang.Text{PT: "informe channel, ou user e peer, mas não ambos", EN: "give channel, or user and peer, not both"}
	textHistoryLimit       = lang.Text{PT: "limit deve estar entre 1 e 1000", EN: "limit must be between 1 and 1000"}
	textHistoryCursor      = lang.Text{PT: "cursor before inválido", EN: "invalid before cursor"}
	textInternal           = lang.Text{PT: "erro interno do servidor, tente novamente", EN: "internal server error, try again"}
	textRateLimited        = lang.Text{PT: "mensagens demais em pouco tempo, aguarde um instante", EN: "too many messages in a short time, wait a moment"}
	textCatchingUp         = lang.Text{PT: "servidor sincronizando com os outros, tente novamente", EN: "server catching up with the others, try again"}
	textStaleCoordinator   = lang.Text{PT: "coordenador de uma eleição antiga", EN: "coordinator of an old election"}
	textTooManyBackups     = lang.Text{PT: "cópias demais em andamento, tente em alguns minutos", EN: "too many copies in progress, try again in a few minutes"}
	textShuttingDown       = lang.Text{PT: "servidor encerrando, tente novamente", EN: "server shutting down, try again"}
)

// tooLargeText describes a client request over the server's limit of
// limit bytes. It names the server, because the broker in front has a
// limit of its own, larger (1 MiB for msgsys), with its own text.
func tooLargeText(limit int) lang.Text {
	return lang.Text{
		PT: "requisição grande demais: o servidor aceita no máximo " + lang.Size(limit),
		EN: "request too large: the server accepts at most " + lang.Size(limit),
	}
}

// reasonText translates a proto.FieldError reason.
func reasonText(reason string) lang.Text {
	switch reason {
	case proto.ReasonNotText:
		return lang.Text{PT: "não é texto", EN: reason}
	case proto.ReasonBin:
		return lang.Text{PT: "bin em vez de str", EN: reason}
	case proto.ReasonNotInt:
		return lang.Text{PT: "não é um inteiro", EN: reason}
	case proto.ReasonNegative:
		return lang.Text{PT: "negativo", EN: reason}
	case proto.ReasonRange:
		return lang.Text{PT: "fora do intervalo", EN: reason}
	}
	return lang.Text{PT: reason, EN: reason}
}

// describe turns a validation error into a description for people.
func describe(err error, l string) string {
	var field *proto.FieldError
	var reserved *proto.ReservedNameError
	switch {
	case errors.As(err, &field):
		if field.Field == "clock" {
			return textBadClock.In(l)
		}
		if field.Reason == proto.ReasonTime {
			return textBadTimestamp.In(l)
		}
		if field.Reason == proto.ReasonMissing {
			return textFieldMissing.In(l) + field.Field
		}
		if field.Reason == proto.ReasonNotUTF8 {
			return textTextUTF8.In(l) + " (" + field.Field + ")"
		}
		return textFieldType.In(l) + field.Field + " (" + reasonText(field.Reason).In(l) + ")"
	case errors.Is(err, errIDTooLong):
		return textIDTooLong.In(l)
	case errors.Is(err, proto.ErrNameEmpty):
		return textNameEmpty.In(l)
	case errors.Is(err, proto.ErrNameTooLong):
		return textNameTooLong.In(l)
	case errors.Is(err, proto.ErrNameChars), errors.Is(err, proto.ErrNameNotUTF8):
		return textNameChars.In(l)
	case errors.As(err, &reserved):
		return fmt.Sprintf(textNameReserved.In(l), proto.QuoteShort(reserved.Name))
	case errors.Is(err, proto.ErrNameReserved):
		return fmt.Sprintf(textNameReserved.In(l), `"`+proto.ReservedTopic+`"`)
	case errors.Is(err, proto.ErrTextEmpty):
		return textTextEmpty.In(l)
	case errors.Is(err, proto.ErrTextTooLong):
		return textTextTooLong.In(l)
	case errors.Is(err, proto.ErrTextControl):
		return textTextControl.In(l)
	case errors.Is(err, proto.ErrTextNotUTF8):
		return textTextUTF8.In(l)
	case errors.Is(err, proto.ErrFrameTooLarge), errors.Is(err, proto.ErrMessageTooLarge):
		return tooLargeText(proto.MaxFrameBytes).In(l)
	case errors.Is(err, proto.ErrTooDeep):
		return fmt.Sprintf(textTooDeep.In(l), proto.MaxDepth)
	case errors.Is(err, proto.ErrKeyNotStr):
		return textKeyNotStr.In(l)
	case errors.Is(err, proto.ErrNotMap):
		return textNotMap.In(l)
	case errors.Is(err, proto.ErrNoService):
		return textNoService.In(l)
	case errors.Is(err, proto.ErrServiceType):
		return textServiceType.In(l)
	case errors.Is(err, proto.ErrNoData):
		return textNoData.In(l)
	}
	return textInvalidMessage.In(l)
}
