package client

import "msgsys/lang"

// Every text the client shows, in Brazilian Portuguese and English. Texts
// with verbs are format strings for fmt.Sprintf.

// Errors of Session calls.
var (
	textTimedOut    = lang.Text{PT: "servidor indisponível (sem resposta em %s), tente novamente", EN: "server unavailable (no reply within %s), try again"}
	textUnreachable = lang.Text{PT: "broker indisponível (não foi possível conectar a %s), tente novamente", EN: "broker unavailable (cannot connect to %s), try again"}
	textNoHandshake = lang.Text{PT: "broker indisponível (%s aceitou a conexão, mas não respondeu em %s), tente novamente", EN: "broker unavailable (%s accepted the connection but did not reply within %s), try again"}
	textBadReply    = lang.Text{PT: "resposta inválida do servidor", EN: "invalid reply from the server"}
	textRejected    = lang.Text{PT: "o servidor recusou o pedido", EN: "the server rejected the request"}
	textEncode      = lang.Text{PT: "não foi possível codificar o pedido", EN: "the request could not be encoded"}
	textNotLoggedIn = lang.Text{PT: "faça login primeiro: /login NOME", EN: "log in first: /login NAME"}

	textNameEmpty    = lang.Text{PT: "o nome não pode ser vazio", EN: "the name cannot be empty"}
	textNameTooLong  = lang.Text{PT: "o nome %q passa de %d caracteres", EN: "the name %q is longer than %d characters"}
	textNameReserved = lang.Text{PT: "o nome %q é reservado", EN: "the name %q is reserved"}
	textNameNotUTF8  = lang.Text{PT: "o nome não é UTF-8 válido", EN: "the name is not valid UTF-8"}
	textNameChars    = lang.Text{PT: "o nome %q só pode ter letras, dígitos, _, - e .", EN: "the name %q may only contain letters, digits, _, - and ."}

	textTextEmpty   = lang.Text{PT: "a mensagem está vazia", EN: "the message is empty"}
	textTextTooLong = lang.Text{PT: "a mensagem tem %d bytes e o máximo é %d; nada foi enviado", EN: "the message has %d bytes and the maximum is %d; nothing was sent"}
	textTextNotUTF8 = lang.Text{PT: "a mensagem não é UTF-8 válido", EN: "the message is not valid UTF-8"}
	textLineCut     = lang.Text{PT: "nada foi enviado: a linha ficou longa demais e o excesso foi descartado; uma mensagem tem no máximo %d bytes (a seta para cima traz de volta o que ficou)", EN: "nothing was sent: the line grew too long and the excess was dropped; a message has at most %d bytes (Up brings back what was kept)"}
	textTextControl = lang.Text{PT: "a mensagem tem caracteres de controle (só quebra de linha e tab são permitidos)", EN: "the message has control characters (only newline and tab are allowed)"}
)

// Errors of the configuration, which name the command's flags.
var (
	textEndpointInvalid     = lang.Text{PT: "client: %s inválido: %q; use tcp://HOST:PORTA", EN: "client: invalid %s %q: use tcp://HOST:PORT"}
	textTimeoutInvalid      = lang.Text{PT: "client: --timeout precisa ser positivo, como 5s, e não %v", EN: "client: --timeout must be positive, such as 5s, not %v"}
	textHistoryLimitInvalid = lang.Text{PT: "client: --history precisa estar entre 0 e %d, e não %d", EN: "client: --history must be between 0 and %d, not %d"}
)

// The numbered menu and its prompts.
var (
	textMenuTitle     = lang.Text{PT: "=== msgsys ===", EN: "=== msgsys ==="}
	textMenuTitleUser = lang.Text{PT: "=== msgsys (%s) ===", EN: "=== msgsys (%s) ==="}
	textMenuLogin     = lang.Text{PT: "1) Entrar", EN: "1) Log in"}
	textMenuRelogin   = lang.Text{PT: "1) Entrar com outro nome", EN: "1) Log in as someone else"}
	textMenuUsers     = lang.Text{PT: "2) Listar usuários", EN: "2) List users"}
	textMenuCreate    = lang.Text{PT: "3) Criar canal", EN: "3) Create a channel"}
	textMenuChannels  = lang.Text{PT: "4) Listar canais", EN: "4) List channels"}
	textMenuPost      = lang.Text{PT: "5) Publicar em um canal", EN: "5) Post to a channel"}
	textMenuDirect    = lang.Text{PT: "6) Enviar mensagem direta", EN: "6) Send a direct message"}
	textMenuJoin      = lang.Text{PT: "7) Inscrever-se em um canal", EN: "7) Subscribe to a channel"}
	textMenuQuit      = lang.Text{PT: "0) Sair", EN: "0) Quit"}
	textMenuHint      = lang.Text{PT: "(digite /help para ver os comandos)", EN: "(type /help for the commands)"}

	textPromptOption    = lang.Text{PT: "Opção: ", EN: "Option: "}
	textPromptName      = lang.Text{PT: "Seu nome: ", EN: "Your name: "}
	textPromptNewName   = lang.Text{PT: "Nome do novo canal: ", EN: "New channel's name: "}
	textPromptChannel   = lang.Text{PT: "Canal: ", EN: "Channel: "}
	textPromptText      = lang.Text{PT: "Mensagem: ", EN: "Message: "}
	textPromptRecipient = lang.Text{PT: "Para (usuário): ", EN: "To (user): "}

	textInvalidOption = lang.Text{PT: "opção inválida: %q (digite um número do menu ou /help)", EN: "invalid option: %q (type a menu number or /help)"}
	textCancelled     = lang.Text{PT: "cancelado", EN: "cancelled"}
)

// Results of actions.
var (
	textBanner         = lang.Text{PT: "msgsys: chat da turma. Digite /help para ver os comandos.", EN: "msgsys: class chat. Type /help for the commands."}
	textWelcome        = lang.Text{PT: "Bem-vindo(a), %s!", EN: "Welcome, %s!"}
	textUsers          = lang.Text{PT: "Usuários (%d): %s", EN: "Users (%d): %s"}
	textNoUsers        = lang.Text{PT: "Nenhum usuário registrado.", EN: "No registered users."}
	textChannels       = lang.Text{PT: "Canais (%d): %s", EN: "Channels (%d): %s"}
	textNoChannels     = lang.Text{PT: "Nenhum canal ainda; crie um com /create NOME.", EN: "No channels yet; create one with /create NAME."}
	textCreated        = lang.Text{PT: "Canal #%s criado.", EN: "Channel #%s created."}
	textPublished      = lang.Text{PT: "Mensagem publicada em #%s.", EN: "Message posted to #%s."}
	textSent           = lang.Text{PT: "Mensagem enviada para @%s.", EN: "Message sent to @%s."}
	textSubscribed     = lang.Text{PT: "Inscrito em #%s: as mensagens novas aparecem aqui.", EN: "Subscribed to #%s: new messages show up here."}
	textChatMode       = lang.Text{PT: "Agora o que você digitar vai para #%s (/menu volta ao menu).", EN: "What you type now goes to #%s (/menu returns to the menu)."}
	textNoSuchChannel  = lang.Text{PT: "o canal #%s não existe; crie com /create %s", EN: "channel #%s does not exist; create it with /create %s"}
	textNoSuchUser     = lang.Text{PT: "o usuário @%s não existe; /users lista os usuários", EN: "user @%s does not exist; /users lists the users"}
	textLeft           = lang.Text{PT: "Você saiu de #%s.", EN: "You left #%s."}
	textNotJoined      = lang.Text{PT: "Você não está em #%s.", EN: "You are not in #%s."}
	textNoCurrent      = lang.Text{PT: "Você não está em nenhum canal; use /leave CANAL.", EN: "You are in no channel; use /leave CHANNEL."}
	textHistoryChannel = lang.Text{PT: "Histórico de #%s:", EN: "History of #%s:"}
	textHistoryPeer    = lang.Text{PT: "Conversa com @%s:", EN: "Conversation with @%s:"}
	textHistoryEmpty   = lang.Text{PT: "(nenhuma mensagem)", EN: "(no messages)"}
	textHistoryOlder   = lang.Text{PT: "(há mensagens mais antigas: digite /older para vê-las)", EN: "(older messages exist: type /older to see them)"}
	textHistorySkipped = lang.Text{PT: "(%d mensagens ilegíveis omitidas)", EN: "(%d unreadable messages left out)"}
	textHistoryFailed  = lang.Text{PT: "não foi possível ler o histórico de #%s: %v", EN: "could not read the history of #%s: %v"}
	textMenuMode       = lang.Text{PT: "De volta ao menu.", EN: "Back to the menu."}
	textReconnected    = lang.Text{PT: "(mensagens ao vivo reconectadas)", EN: "(live messages reconnected)"}
	textLiveLost       = lang.Text{PT: "(conexão das mensagens ao vivo perdida, reconectando…)", EN: "(live messages connection lost, reconnecting…)"}
	textWaiting        = lang.Text{PT: "(aguardando a resposta do servidor…)", EN: "(waiting for the server's reply…)"}
	textYou            = lang.Text{PT: "você", EN: "you"}
	textUnknownCommand = lang.Text{PT: "comando desconhecido: %s (digite /help)", EN: "unknown command: %s (type /help)"}
	textUsage          = lang.Text{PT: "uso: %s", EN: "usage: %s"}
	textBye            = lang.Text{PT: "Até mais!", EN: "Bye!"}
)

// Results of /older, which pages back through history.
var (
	textNoOlderChannel    = lang.Text{PT: "(não há mensagens mais antigas em #%s)", EN: "(no older messages in #%s)"}
	textNoOlderPeer       = lang.Text{PT: "(não há mensagens mais antigas na conversa com @%s)", EN: "(no older messages in the conversation with @%s)"}
	textOlderNothingShown = lang.Text{PT: "nenhum histórico foi mostrado ainda; use /history CANAL ou /history @NOME", EN: "no history has been shown yet; use /history CHANNEL or /history @NAME"}
)

// Usage lines of the slash commands, shown after a malformed one.
var (
	usageLogin   = lang.Text{PT: "/login NOME", EN: "/login NAME"}
	usageJoin    = lang.Text{PT: "/join CANAL", EN: "/join CHANNEL"}
	usagePost    = lang.Text{PT: "/post CANAL TEXTO", EN: "/post CHANNEL TEXT"}
	usageMsg     = lang.Text{PT: "/msg NOME TEXTO", EN: "/msg NAME TEXT"}
	usageCreate  = lang.Text{PT: "/create NOME", EN: "/create NAME"}
	usageHistory = lang.Text{PT: "/history CANAL ou /history @NOME", EN: "/history CHANNEL or /history @NAME"}
	usageOlder   = lang.Text{PT: "/older, sem argumentos", EN: "/older, without arguments"}
)

var textHelp = lang.Text{
	PT: `Comandos (valem em qualquer prompt):
  /login NOME          entra, ou troca de usuário
  /join CANAL          entra no canal (#geral também vale): mostra o histórico e depois as mensagens novas
  /leave [CANAL]       sai do canal (o atual, se omitido)
  /post CANAL TEXTO    publica no canal
  /msg NOME TEXTO      manda uma mensagem direta
  /users               lista os usuários
  /channels            lista os canais
  /create NOME         cria um canal
  /history CANAL       mostra o histórico do canal; /history @NOME mostra a conversa com NOME
  /older               mostra a página de mensagens anterior à última página de histórico mostrada
  /menu                volta ao menu numerado
  /help                mostra esta ajuda
  /quit                sai
Depois de /join, o texto digitado sem / vai para o canal atual.`,
	EN: `Commands (they work at any prompt):
  /login NAME          log in, or switch user
  /join CHANNEL        join a channel (#geral works too): shows its history, then new messages
  /leave [CHANNEL]     leave a channel (the current one when omitted)
  /post CHANNEL TEXT   post to a channel
  /msg NAME TEXT       send a direct message
  /users               list users
  /channels            list channels
  /create NAME         create a channel
  /history CHANNEL     show a channel's history; /history @NAME shows your conversation with NAME
  /older               show the page of messages before the history page shown last
  /menu                return to the numbered menu
  /help                show this help
  /quit                quit
After /join, text typed without / goes to the current channel.`,
}
