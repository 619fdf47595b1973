package status

import "msgsys/lang"

// Every text the table and the errors show, in Brazilian Portuguese and
// English. Texts with verbs are format strings for fmt.Sprintf. The JSON
// report uses none of them.

// Column headings of the table, in the order of tableRow's cells.
var tableHeader = []lang.Text{
	{PT: "NOME", EN: "NAME"},
	{PT: "RANK", EN: "RANK"},
	{PT: "ENDEREÇO", EN: "ADDR"},
	{PT: "COORDENADOR", EN: "COORDINATOR"},
	{PT: "DESVIO", EN: "OFFSET"},
	{PT: "LAMPORT", EN: "LAMPORT"},
	{PT: "USUÁRIOS", EN: "USERS"},
	{PT: "CANAIS", EN: "CHANNELS"},
	{PT: "MENSAGENS", EN: "MESSAGES"},
	{PT: "ESTADO", EN: "STATE"},
	{PT: "REPLICAÇÃO", EN: "REPLICATION"},
}

// Cells and notes of the table.
var (
	textNoCoordinator = lang.Text{PT: "nenhum", EN: "none"}
	textCoordinator   = lang.Text{PT: "%s (época %d)", EN: "%s (epoch %d)"}
	textUnreachable   = lang.Text{PT: "inacessível", EN: "unreachable"}
	textNoStatus      = lang.Text{PT: "sem status", EN: "no status"}
	textCatchingUp    = lang.Text{PT: "em atualização", EN: "catching up"}
	textServing       = lang.Text{PT: "atendendo", EN: "serving"}
	textStarting      = lang.Text{PT: "iniciando", EN: "starting"}
	textNoBroker      = lang.Text{PT: "sem broker", EN: "no broker"}
	textReplication   = lang.Text{PT: "seq %d, %d operações guardadas, %d/%d pares em sincronia", EN: "seq %d, %d ops held, %d/%d peers in sync"}
	textUnsynced      = lang.Text{PT: ", atualização incompleta a partir de %s", EN: ", catch-up incomplete from %s"}
	textNoneReplied   = lang.Text{PT: "status: nenhum servidor da lista respondeu", EN: "status: no listed server replied"}
	textNoServers     = lang.Text{PT: "a referência não lista nenhum servidor disponível", EN: "no server is available at the reference"}
)

// Errors of a configuration, of the reference and of each server's request.
var (
	textNoReference   = lang.Text{PT: "status: o endpoint da referência está vazio: defina --reference", EN: "status: reference endpoint is empty: set --reference"}
	textBadReference  = lang.Text{PT: "status: --reference inválido: %q; use tcp://HOST:PORTA", EN: "status: invalid --reference %q: use tcp://HOST:PORT"}
	textBadTimeout    = lang.Text{PT: "status: o prazo %v deve ser positivo: defina --timeout", EN: "status: timeout %v must be positive: set --timeout"}
	textReferenceFail = lang.Text{PT: "status: referência em %s: %v; verifique se a referência está rodando e se --reference aponta para ela, ou consulte os servidores direto com --server tcp://HOST:PORTA", EN: "status: reference at %s: %v; check that the reference runs and that --reference points at it, or query the servers directly with --server tcp://HOST:PORT"}
	textBadServer     = lang.Text{PT: "status: --server inválido: %q; use tcp://HOST:PORTA", EN: "status: invalid --server %q: use tcp://HOST:PORT"}
	textNoAddr        = lang.Text{PT: "nenhum endereço registrado para os serviços entre servidores", EN: "no server-to-server address registered"}
	textBadAddr       = lang.Text{PT: "endereço registrado inválido: %q não é tcp://HOST:PORTA", EN: "invalid registered address: %q is not tcp://HOST:PORT"}
	textTimedOut      = lang.Text{PT: "sem resposta em %v", EN: "no reply within %v"}
	textKeyMismatch   = lang.Text{PT: "não foi possível conectar: a chave do cluster não confere: um lado tem chave e o outro não; defina --cluster-key ou MSGSYS_CLUSTER_KEY como nos servidores", EN: "cannot connect: the cluster key does not match: one side has a key and the other none; set --cluster-key or MSGSYS_CLUSTER_KEY as on the servers"}
	textBadKey        = lang.Text{PT: "não foi possível conectar: o servidor recusou a chave do cluster; defina --cluster-key ou MSGSYS_CLUSTER_KEY como nos servidores", EN: "cannot connect: the server rejected the cluster key; set --cluster-key or MSGSYS_CLUSTER_KEY as on the servers"}
	textRefused       = lang.Text{PT: "não foi possível conectar: conexão recusada, nada escuta nesse endereço", EN: "cannot connect: connection refused, nothing listens at that address"}
	textCannotConnect = lang.Text{PT: "não foi possível conectar: %v", EN: "cannot connect: %v"}
	textClosed        = lang.Text{PT: "a conexão foi fechada antes da resposta", EN: "the connection closed before the reply"}
	textInvalidReply  = lang.Text{PT: "resposta inválida: %v", EN: "invalid reply: %v"}
	textRejected      = lang.Text{PT: "pedido %s recusado pelo servidor: %s", EN: "%s rejected by the server: %s"}
	textWrongService  = lang.Text{PT: "a resposta a %s tem o serviço %q", EN: "reply to %s has service %q"}
	textInvalidStatus = lang.Text{PT: "resposta inválida ao pedido %s: %v", EN: "invalid %s reply: %v"}
)
