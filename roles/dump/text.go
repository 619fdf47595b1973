package dump

import "msgsys/lang"

// Errors that dump prints to people, in Brazilian Portuguese and English.
// They are format strings for fmt.Sprintf. The dump itself is JSON and is
// not translated.
var (
	textNoData          = lang.Text{PT: "dump: nenhum diretório de dados informado: defina --data", EN: "dump: data directory is empty: set --data"}
	textBadTimeouts     = lang.Text{PT: "dump: os prazos devem ser positivos, mas --lock-timeout é %v e --timeout é %v", EN: "dump: timeouts must be positive, but --lock-timeout is %v and --timeout is %v"}
	textNoDataDir       = lang.Text{PT: "dump: arquivo de dados não encontrado: o diretório de dados %s não existe: defina --data como o diretório de dados de um servidor", EN: "dump: no store: data directory %s does not exist: set --data to a server's data directory"}
	textNotDir          = lang.Text{PT: "dump: %s não é um diretório: defina --data como o diretório de dados de um servidor, não um arquivo dele", EN: "dump: %s is not a directory: set --data to a server's data directory, not a file in it"}
	textDataDirDenied   = lang.Text{PT: "dump: sem permissão para ler o diretório de dados %s", EN: "dump: no permission to read the data directory %s"}
	textDataDir         = lang.Text{PT: "dump: diretório de dados %s: %v", EN: "dump: data directory %s: %v"}
	textNoStoreFile     = lang.Text{PT: "dump: arquivo de dados não encontrado: %s não tem %s: é o diretório de dados de um servidor, e esse servidor já foi executado?", EN: "dump: no store: %s has no %s: is it a server's data directory, and has the server run?"}
	textNotRegular      = lang.Text{PT: "dump: arquivo de dados não encontrado: %s não é um arquivo comum", EN: "dump: no store: %s is not a regular file"}
	textFailed          = lang.Text{PT: "dump: %v", EN: "dump: %v"}
	textCopyFailed      = lang.Text{PT: "dump: cópia recebida de %s: %v", EN: "dump: copy from %s: %v"}
	textNoInfoFile      = lang.Text{PT: "dump: o servidor em execução não enviou uma cópia: %s está travado por outro processo, e %s não existe, então não há como contatar o servidor dele (um servidor escreve esse arquivo assim que recebe um rank)", EN: "dump: running server did not provide a copy: %s is locked by another process, and %s does not exist, so its server cannot be reached (a server writes it once it has a rank)"}
	textInvalidInfo     = lang.Text{PT: "dump: %s inválido: %v", EN: "dump: invalid %s: %v"}
	textInfoNoAddr      = lang.Text{PT: "dump: %s inválido: falta addr", EN: "dump: invalid %s: no addr"}
	textNoReply         = lang.Text{PT: "dump: o servidor em execução não enviou uma cópia: %s em %s (pid %d): %v; ele ainda está rodando?", EN: "dump: running server did not provide a copy: %s at %s (pid %d): %v; is it still running?"}
	textKeyRefused      = lang.Text{PT: "dump: o servidor em execução não enviou uma cópia: %s em %s exige outra chave do cluster: defina --cluster-key ou MSGSYS_CLUSTER_KEY como nos servidores", EN: "dump: running server did not provide a copy: %s at %s requires another cluster key: set --cluster-key or MSGSYS_CLUSTER_KEY as on the servers"}
	textInvalidReply    = lang.Text{PT: "dump: o servidor em execução não enviou uma cópia: %s enviou uma resposta inválida: %v", EN: "dump: running server did not provide a copy: %s sent an invalid reply: %v"}
	textRejected        = lang.Text{PT: "dump: o servidor em execução não enviou uma cópia: %s recusou o pedido de cópia: %s", EN: "dump: running server did not provide a copy: %s rejected the backup request: %s"}
	textInvalidBackup   = lang.Text{PT: "dump: o servidor em execução não enviou uma cópia: %s enviou uma resposta de cópia inválida: %v", EN: "dump: running server did not provide a copy: %s sent an invalid backup reply: %v"}
	textUnexpectedPath  = lang.Text{PT: "dump: o servidor em execução não enviou uma cópia: caminho de cópia inesperado: %q", EN: "dump: running server did not provide a copy: unexpected backup path %q"}
	textLogIncomplete   = lang.Text{PT: "dump: o arquivo de dados %s está danificado, e o log de escrita antecipada em %s não pode reconstruí-lo: %s. Um servidor iniciado nesse diretório para com o mesmo erro: mova ou apague o diretório %s, e ao iniciar o servidor copia todos os dados de outro servidor que esteja no ar", EN: "dump: store %s is damaged, and the write-ahead log in %s cannot rebuild it: %s. A server started on that directory stops with the same error: move or remove the directory %s, and at start-up the server copies all data from any other server that is up"}
	textNoSegments      = lang.Text{PT: "não há arquivos de segmento", EN: "no segment files found"}
	textSegmentMissing  = lang.Text{PT: "falta o segmento %d", EN: "segment %d is missing"}
	textSegmentsMissing = lang.Text{PT: "faltam os segmentos %s", EN: "segments %s are missing"}
	textCopyMissing     = lang.Text{PT: "dump: o servidor em execução não enviou uma cópia: a cópia %s não foi encontrada em %s: %v", EN: "dump: running server did not provide a copy: copy %s not found in %s: %v"}
)
