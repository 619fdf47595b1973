package client

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/client/clienttest"
)

func TestMenuFlowPortuguese(t *testing.T) {
	srv := clienttest.Start(t)
	h := startClient(t, testConfig(t, srv, lang.PT))

	h.waitFor("Opção:")
	h.send("2")
	h.waitFor("faça login primeiro")
	h.send("1", "ana")
	h.waitFor("Bem-vindo(a), ana!")
	h.send("3", "geral")
	h.waitFor("Canal #geral criado.")
	h.send("4")
	h.waitFor("Canais (1): #geral")
	h.send("5", "geral", "olá pessoal")
	h.waitFor("Mensagem publicada em #geral.")
	h.send("2")
	h.waitFor("Usuários (1): ana")
	h.send("6", "ana", "lembrete para mim")
	h.waitFor("Mensagem enviada para @ana.")
	h.waitFor("@ana → você: lembrete para mim")
	h.send("7", "geral")
	h.waitFor("Inscrito em #geral")
	h.send("9")
	h.waitFor(`opção inválida: "9"`)
	h.send("0")
	h.waitExit()

	out := h.out.String()
	for _, want := range []string{"1) Entrar", "0) Sair", "=== msgsys (ana) ===", "2) Listar usuários",
		"3) Criar canal", "4) Listar canais", "5) Publicar em um canal", "6) Enviar mensagem direta",
		"7) Inscrever-se em um canal", "Seu nome:", "Canal:", "Mensagem:", "Para (usuário):", "Até mais!"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	assertOrder(t, out, "Histórico de #geral:", "#geral ana: olá pessoal", "Inscrito em #geral")
	if !regexp.MustCompile(`\[\d\d:\d\d:\d\d\] #geral ana: olá pessoal`).MatchString(out) {
		t.Errorf("post not shown as [HH:MM:SS] #geral ana: text; output:\n%s", out)
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("output to a pipe has escape codes")
	}
	if posts := srv.Posts("geral"); len(posts) != 1 || posts[0].Message != "olá pessoal" {
		t.Errorf("server posts = %+v, want one post \"olá pessoal\"", posts)
	}
}

func TestMenuFlowEnglish(t *testing.T) {
	srv := clienttest.Start(t)
	h := startClient(t, testConfig(t, srv, lang.EN))

	h.send("1", "bob")
	h.waitFor("Welcome, bob!")
	h.send("3", "#estudos")
	h.waitFor("Channel #estudos created.")
	h.send("5", "estudos", "hello there")
	h.waitFor("Message posted to #estudos.")
	h.send("4")
	h.waitFor("Channels (1): #estudos")
	h.send("3", "")
	h.waitFor("cancelled")
	h.send("0")
	h.waitExit()

	out := h.out.String()
	for _, want := range []string{"1) Log in", "1) Log in as someone else", "7) Subscribe to a channel",
		"Option:", "Your name:", "New channel's name:", "Bye!"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "Opção") || strings.Contains(out, "Canal") {
		t.Errorf("English output has Portuguese text:\n%s", out)
	}
}

func TestMenuPostChecksChannelFirst(t *testing.T) {
	srv := clienttest.Start(t)
	h := startClient(t, testConfig(t, srv, lang.EN))

	h.send("1", "bob")
	h.waitFor("Welcome, bob!")
	h.send("5", "nope")
	h.waitFor("channel #nope does not exist")
	h.send("0")
	h.waitExit()

	if strings.Contains(h.out.String(), "Message:") {
		t.Errorf("the menu asked for a message to a channel that does not exist:\n%s", h.out.String())
	}
	if posts := srv.Requests(proto.ServicePublish); len(posts) != 0 {
		t.Errorf("%d publish requests sent, want none", len(posts))
	}
}

func TestLangDefaultsToPortuguese(t *testing.T) {
	t.Setenv("LANG", "C.UTF-8")
	srv := clienttest.Start(t)
	h := startClient(t, testConfig(t, srv, ""))
	h.waitFor("Opção:")
	h.finish()
}

func TestLangFromEnvironment(t *testing.T) {
	t.Setenv("LANG", "en_US.UTF-8")
	srv := clienttest.Start(t)
	h := startClient(t, testConfig(t, srv, ""))
	h.waitFor("Option:")
	h.finish()
}

func TestSlashCommandsPortuguese(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddUser("bob")
	h := startClient(t, testConfig(t, srv, lang.PT))

	h.send("/users")
	h.waitFor("Usuários (1): bob")
	h.send("/login ana")
	h.waitFor("Bem-vindo(a), ana!")
	h.send("/create geral")
	h.waitFor("Canal #geral criado.")
	h.send("/create geral")
	h.waitFor("o canal geral já existe")
	h.send("/channels")
	h.waitFor("Canais (1): #geral")
	h.send("/post geral bom dia,  turma")
	h.waitFor("Mensagem publicada em #geral.")
	h.send("/msg bob oi tudo bem")
	h.waitFor("Mensagem enviada para @bob.")
	h.send("/history geral")
	h.waitFor("#geral ana: bom dia,  turma")
	h.send("/history @bob")
	h.waitFor("você → @bob: oi tudo bem")
	h.send("/help")
	h.waitFor("/msg NOME TEXTO")
	h.send("/post geral")
	h.waitFor("uso: /post CANAL TEXTO")
	h.send("/dance")
	h.waitFor("comando desconhecido: /dance")
	h.send("/quit")
	h.waitExit()

	if d := srv.Directs(); len(d) != 1 || d[0].Src != "ana" || d[0].Dst != "bob" || d[0].Message != "oi tudo bem" {
		t.Errorf("server direct messages = %+v", d)
	}
	if p := srv.Posts("geral"); len(p) != 1 || p[0].Message != "bom dia,  turma" {
		t.Errorf("server posts = %+v, want the text as typed", p)
	}
}

func TestSlashCommandsEnglish(t *testing.T) {
	srv := clienttest.Start(t)
	h := startClient(t, testConfig(t, srv, lang.EN))

	h.send("/help")
	h.waitFor("/msg NAME TEXT")
	h.waitFor("After /join, text typed without / goes to the current channel.")
	h.send("/post geral hi")
	h.waitFor("log in first: /login NAME")
	h.send("/login ana", "/join nada")
	h.waitFor("channel #nada does not exist; create it with /create nada")
	h.send("/leave geral")
	h.waitFor("You are not in #geral.")
	h.send("/exit")
	h.waitExit()
	if strings.Contains(h.out.String(), "Comandos") {
		t.Errorf("English help has Portuguese text")
	}
}

func TestSlashCommandInsideMenuPrompt(t *testing.T) {
	srv := clienttest.Start(t)
	h := startClient(t, testConfig(t, srv, lang.PT))

	h.send("/login ana", "5", "/users")
	h.waitFor("Usuários (1): ana")
	// The command replaced the menu action, so the next line is a menu
	// choice again, not the post's text.
	h.send("4")
	h.waitFor("Nenhum canal ainda")
	h.finish()
	if n := len(srv.Requests(proto.ServicePublish)); n != 0 {
		t.Errorf("%d publish requests, want 0", n)
	}
}

func TestLoginAtStartFromConfig(t *testing.T) {
	srv := clienttest.Start(t)
	cfg := testConfig(t, srv, lang.PT)
	cfg.User = "carla"
	h := startClient(t, cfg)
	h.waitFor("Bem-vindo(a), carla!")
	h.waitFor("=== msgsys (carla) ===")
	h.finish()
}

func TestRelogin(t *testing.T) {
	srv := clienttest.Start(t)
	h := startClient(t, testConfig(t, srv, lang.PT))

	h.send("/login ana")
	h.waitFor("Bem-vindo(a), ana!")
	h.send("1", "bia")
	h.waitFor("Bem-vindo(a), bia!")
	if !eventually(func() bool { return srv.Subscribed("bia") && !srv.Subscribed("ana") }) {
		t.Fatalf("subscriptions not moved from ana to bia")
	}
	h.finish()
}

func TestEndOfInputAfterReplies(t *testing.T) {
	srv := clienttest.Start(t)
	h := startClient(t, testConfig(t, srv, lang.PT))
	h.send("/login ana", "/create geral", "/channels")
	h.finish()
	out := h.out.String()
	assertOrder(t, out, "Bem-vindo(a), ana!", "Canal #geral criado.", "Canais (1): #geral", "Até mais!")
}

func TestJoinWithHistoryZero(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("geral")
	// Posted before the client starts, so that it can only come from history.
	srv.Post("geral", "bia", "older post")
	cfg := testConfig(t, srv, lang.EN)
	cfg.HistoryLimit = 0
	h := startClient(t, cfg)

	h.send("/login ana", "/join geral")
	h.waitFor("What you type now goes to #geral")
	h.send("/quit")
	h.waitExit()

	out := h.out.String()
	if strings.Contains(out, "History of #geral") {
		t.Errorf("join with HistoryLimit 0 shows a history header:\n%s", out)
	}
	if strings.Contains(out, "older post") {
		t.Errorf("join with HistoryLimit 0 shows an earlier post:\n%s", out)
	}
}

func TestJoinSaysOlderMessagesExist(t *testing.T) {
	srv := clienttest.Start(t)
	srv.AddChannel("geral")
	for i := range 3 {
		srv.Post("geral", "bia", fmt.Sprintf("post %d", i))
	}
	cfg := testConfig(t, srv, lang.EN)
	cfg.HistoryLimit = 2
	h := startClient(t, cfg)

	h.send("/login ana", "/join geral")
	h.waitFor("What you type now goes to #geral")
	h.send("/quit")
	h.waitExit()

	assertOrder(t, h.out.String(), "History of #geral", "(older messages exist: type /older to see them)", "post 1", "post 2")
	if strings.Contains(h.out.String(), "post 0") {
		t.Errorf("join with a limit of 2 shows the oldest of 3 posts:\n%s", h.out.String())
	}
}

func TestConfigErrorsNameFlags(t *testing.T) {
	for _, tc := range []struct {
		l    string
		edit func(*Config)
		want string
	}{
		{lang.EN, func(c *Config) { c.Broker = "foo" }, `invalid --broker "foo": use tcp://HOST:PORT`},
		{lang.EN, func(c *Config) { c.Broker = "tcp://127.0.0.1:99999" }, `invalid --broker "tcp://127.0.0.1:99999"`},
		{lang.EN, func(c *Config) { c.Broker = "tcp://*:5555" }, `invalid --broker "tcp://*:5555"`},
		{lang.EN, func(c *Config) { c.Sub = "tcp://localhost:0" }, `invalid --sub "tcp://localhost:0"`},
		{lang.PT, func(c *Config) { c.Sub = "foo" }, `--sub inválido: "foo"; use tcp://HOST:PORTA`},
		{lang.EN, func(c *Config) { c.Timeout = 0 }, "--timeout must be positive"},
		{lang.PT, func(c *Config) { c.Timeout = 0 }, "--timeout precisa ser positivo"},
		{lang.EN, func(c *Config) { c.HistoryLimit = -1 }, "--history must be between 0 and 1000, not -1"},
		{lang.PT, func(c *Config) { c.HistoryLimit = proto.HistoryMaxLimit + 1 }, "--history precisa estar entre 0 e 1000, e não 1001"},
	} {
		cfg := DefaultConfig()
		cfg.Lang = tc.l
		tc.edit(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New error in %s = %v, want one containing %q", tc.l, err, tc.want)
		}
	}
}
