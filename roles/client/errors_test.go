package client

import (
	"strings"
	"testing"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/client/clienttest"
)

func TestErrorsInChosenLanguage(t *testing.T) {
	long := strings.Repeat("x", proto.MaxTextBytes+1)
	steps := []struct {
		input  string
		pt, en string
	}{
		{"/post geral oi", "faça login primeiro: /login NOME", "log in first: /login NAME"},
		{"/login ana!", `o nome "ana!" só pode ter letras, dígitos, _, - e .`, `the name "ana!" may only contain letters, digits, _, - and .`},
		{"/login " + strings.Repeat("a", 33), "passa de 32 caracteres", "is longer than 32 characters"},
		{"/login servers", `o nome "servers" é reservado`, `the name "servers" is reserved`},
		{"/login ana", "Bem-vindo(a), ana!", "Welcome, ana!"},
		{"/post nada oi", "canal desconhecido: nada", "canal desconhecido: nada"},
		{"/post geral " + long, "a mensagem tem 8193 bytes e o máximo é 8192; nada foi enviado", "the message has 8193 bytes and the maximum is 8192; nothing was sent"},
		{"/msg bob a\x07b", "a mensagem tem caracteres de controle", "the message has control characters"},
		{"/msg bob oi", "usuário desconhecido: bob", "usuário desconhecido: bob"},
	}
	for _, l := range []string{lang.PT, lang.EN} {
		t.Run(l, func(t *testing.T) {
			srv := clienttest.Start(t)
			srv.AddChannel("geral")
			h := startClient(t, testConfig(t, srv, l))
			for _, step := range steps {
				h.send(step.input)
				h.waitFor(lang.Text{PT: step.pt, EN: step.en}.In(l))
			}
			h.finish()
			for _, r := range srv.Requests(proto.ServicePublish) {
				if len(r.Frame) > proto.MaxTextBytes {
					t.Errorf("text over %d bytes was sent", proto.MaxTextBytes)
				}
			}
		})
	}
}
