package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"msgsys/lang"
	"msgsys/roles/common"
)

// Command is `msgsys bench SCENARIO [flags]`, one subcommand per
// scenario.
func Command() *cli.Command {
	return &cli.Command{
		Name: "bench",
		Usage: common.HelpText(lang.Text{
			PT: "mede o msgsys com processos reais nesta máquina, ao lado de uma base de comparação em libzmq",
			EN: "measure msgsys with real processes on this machine, beside a libzmq baseline",
		}),
		Description: common.HelpText(lang.Text{
			PT: "Cada cenário inicia o próprio cluster de processos msgsys em portas de loopback, ou usa um\n" +
				"cluster em execução dado pelos endereços, imprime uma tabela (ou um objeto JSON com --json) e\n" +
				"encerra todos os processos que iniciou. reqrep e pubsub também medem um broker e um proxy libzmq\n" +
				"em Python (python3-zmq) e dão cada número como razão em relação a eles. Quando um processo\n" +
				"iniciado sai sozinho, ou um segundo medido passa com requisições falhas e nenhuma bem-sucedida\n" +
				"(reqrep) ou sem nenhuma entrega (pubsub), o relatório marca os números como INVALID e o comando\n" +
				"sai com código diferente de zero.",
			EN: "Each scenario starts its own cluster of msgsys processes on loopback ports, or uses a running\n" +
				"one given by its addresses, prints a table (or one JSON object with --json), and stops every\n" +
				"process it started. reqrep and pubsub also measure a libzmq broker and proxy in Python\n" +
				"(python3-zmq) and state each figure as a ratio to it. When a started process exits on its own,\n" +
				"or a measured second passes with failed requests and no successful one (reqrep) or without\n" +
				"any delivery (pubsub), the report marks its figures INVALID and the command exits non-zero.",
		}),
		Flags: []cli.Flag{common.HelpLangFlag()},
		Subcommands: []*cli.Command{
			scenarioCommand(ScenarioReqRep, lang.Text{
				PT: "requisições por segundo e latência de um serviço através do broker",
				EN: "requests per second and latency of one service through the broker",
			},
				flagService, flagClients, flagDuration, flagWarmup, flagSize, flagFrontend, flagBaseline, flagPython),
			scenarioCommand(ScenarioPubSub, lang.Text{
				PT: "publicações entregues por segundo, perdas e latência através do proxy",
				EN: "publications delivered per second, loss and latency through the proxy",
			},
				flagSubscribers, flagPublishers, flagDuration, flagWarmup, flagSize, flagWindow, flagRate, flagXSub, flagXPub, flagBaseline, flagPython),
			scenarioCommand(ScenarioFailover, lang.Text{
				PT: "tempo até todos os servidores concordarem sobre um novo coordenador depois de um kill -9",
				EN: "time until every server agrees on a new coordinator after kill -9",
			},
				flagKills),
			scenarioCommand(ScenarioBerkeley, lang.Text{
				PT: "desvios de relógio que restam depois de cada rodada de Berkeley",
				EN: "residual clock offsets after each Berkeley round",
			},
				flagSkews, flagRounds, flagBerkeleyEvery, flagReference),
			scenarioCommand(ScenarioCatchup, lang.Text{
				PT: "tempo até um servidor reiniciado com o diretório vazio se atualizar",
				EN: "time until a server restarted with an empty directory has caught up",
			},
				flagMessages, flagFill, flagClients, flagSize),
			scenarioCommand(ScenarioMemory, lang.Text{
				PT: "memória residente de um servidor depois de guardar muitas mensagens",
				EN: "a server's resident memory after storing many messages",
			},
				flagMessages, flagFill, flagClients, flagSize, flagMaxFill),
		},
		// Without a scenario the command shows its help. For an unknown
		// one urfave/cli prints "No help topic", which names no scenario.
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowSubcommandHelp(c)
			}
			return common.StartFailed(fmt.Errorf("unknown scenario %q: use one of %s", c.Args().First(), strings.Join(scenarioNames(), ", ")))
		},
	}
}

// scenarioNames lists the scenarios in the order of the help.
func scenarioNames() []string {
	return []string{ScenarioReqRep, ScenarioPubSub, ScenarioFailover, ScenarioBerkeley, ScenarioCatchup, ScenarioMemory}
}

// Flag names, so a scenario lists the flags it reads.
const (
	flagJSON          = "json"
	flagServers       = "servers"
	flagServerArg     = "server-arg"
	flagChildLogLevel = "child-log-level"
	flagKeep          = "keep"
	flagTimeout       = "timeout"
	flagExecutable    = "executable"
	flagClusterKey    = "cluster-key"
	flagService       = "service"
	flagClients       = "clients"
	flagDuration      = "duration"
	flagWarmup        = "warmup"
	flagSize          = "size"
	flagFrontend      = "frontend"
	flagBaseline      = "baseline"
	flagPython        = "python"
	flagSubscribers   = "subscribers"
	flagPublishers    = "publishers"
	flagWindow        = "window"
	flagRate          = "rate"
	flagXSub          = "xsub"
	flagXPub          = "xpub"
	flagKills         = "kills"
	flagSkews         = "skews"
	flagRounds        = "rounds"
	flagBerkeleyEvery = "berkeley-every"
	flagReference     = "reference"
	flagMessages      = "messages"
	flagFill          = "fill"
	flagMaxFill       = "max-fill"
)

// commonFlags are the flags of every scenario.
var commonFlags = []string{flagJSON, flagServers, flagServerArg, flagChildLogLevel, flagKeep, flagTimeout, flagExecutable, flagClusterKey}

// flagFor declares one flag with the scenario's default.
func flagFor(name string, d Config) cli.Flag {
	env := []string{"MSGSYS_BENCH_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
	switch name {
	case flagJSON:
		return &cli.BoolFlag{Name: name, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "imprime um objeto JSON em vez de uma tabela",
			EN: "print one JSON object instead of a table",
		})}
	case flagClusterKey:
		// The variable every other command reads, so that one export
		// serves the whole cluster.
		return &cli.StringFlag{Name: name, EnvVars: []string{"MSGSYS_CLUSTER_KEY"}, Usage: common.HelpText(lang.Text{
			PT: "chave do cluster (ZeroMQ PLAIN) passada à referência, aos servidores e ao broker iniciados, e apresentada à referência, aos servidores e ao proxy de um cluster em execução; vazio: nenhuma",
			EN: "cluster key (ZeroMQ PLAIN) given to the started reference, servers and broker, and presented to the reference, servers and proxy of a running cluster; empty: none",
		})}
	case flagServers:
		return &cli.IntFlag{Name: name, Value: d.Servers, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "servidores do cluster iniciado",
			EN: "servers of the started cluster",
		})}
	case flagServerArg:
		return &cli.StringSliceFlag{Name: name, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "argumento extra para cada servidor iniciado, como --server-arg=--check-every=50ms (pode ser repetido)",
			EN: "extra argument for every started server, such as --server-arg=--check-every=50ms (repeatable)",
		})}
	case flagChildLogLevel:
		return &cli.StringFlag{Name: name, Value: d.ChildLogLevel, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "nível de log dos processos iniciados, cujos logs vão para arquivos no diretório do cluster",
			EN: "log level of the started processes, whose logs go to files in the cluster's directory",
		})}
	case flagKeep:
		return &cli.BoolFlag{Name: name, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "mantém o diretório temporário do cluster com os logs e os dados (ele sempre é mantido quando a execução falha)",
			EN: "keep the cluster's temporary directory with its logs and data (it is always kept when the run fails)",
		})}
	case flagTimeout:
		return &cli.DurationFlag{Name: name, Value: d.Timeout, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "prazo de uma requisição",
			EN: "deadline of one request",
		})}
	case flagExecutable:
		return &cli.StringFlag{Name: name, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "binário do msgsys que os processos iniciados executam (padrão: este)",
			EN: "msgsys binary the started processes run (default: this one)",
		})}
	case flagService:
		return &cli.StringFlag{Name: name, Value: d.Service, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "serviço a pôr sob carga: ",
			EN: "service to load: ",
		}) + strings.Join(Services, ", ")}
	case flagClients:
		return &cli.IntFlag{Name: name, Value: d.Clients, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "clientes simultâneos, cada um com seu usuário, cada um esperando a resposta antes da próxima requisição",
			EN: "concurrent clients, each its own user, each waiting for its reply before the next request",
		})}
	case flagDuration:
		return &cli.DurationFlag{Name: name, Value: d.Duration, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "tempo medido",
			EN: "measured time",
		})}
	case flagWarmup:
		return &cli.DurationFlag{Name: name, Value: d.Warmup, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "carga não medida antes do tempo medido",
			EN: "unmeasured load before the measured time",
		})}
	case flagSize:
		return &cli.IntFlag{Name: name, Value: d.Size, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "bytes do texto das mensagens (reqrep, catchup e memory) ou do conteúdo das publicações (pubsub)",
			EN: "bytes of message text (reqrep, fills) or of publication payload (pubsub)",
		})}
	case flagFrontend:
		return &cli.StringFlag{Name: name, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "frontend do broker de um cluster em execução a pôr sob carga, em vez de iniciar um",
			EN: "broker frontend of a running cluster to load instead of starting one",
		})}
	case flagBaseline:
		return &cli.BoolFlag{Name: name, Value: d.Baseline, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "mede também a base de comparação em libzmq (pulada com um aviso quando o Python não tem o zmq)",
			EN: "also measure the libzmq baseline (skipped with a note when Python lacks zmq)",
		})}
	case flagPython:
		return &cli.StringFlag{Name: name, Value: d.Python, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "interpretador Python com o módulo zmq, para a base de comparação",
			EN: "Python interpreter with the zmq module, for the baseline",
		})}
	case flagSubscribers:
		return &cli.IntFlag{Name: name, Value: d.Subscribers, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "assinantes, todos em um só tópico",
			EN: "subscribers, all on one topic",
		})}
	case flagPublishers:
		return &cli.IntFlag{Name: name, Value: d.Publishers, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "publicadores, cada um conectado ao lado dos publicadores do proxy",
			EN: "publishers, each connected to the proxy's publisher side",
		})}
	case flagWindow:
		return &cli.IntFlag{Name: name, Value: d.Window, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "publicações que um publicador pode ter em trânsito à frente do assinante mais lento (0: sem limite)",
			EN: "publications a publisher may have in flight ahead of the slowest subscriber (0: no bound)",
		})}
	case flagRate:
		return &cli.IntFlag{Name: name, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "publicações por segundo por publicador (0: tão rápido quanto a janela permitir)",
			EN: "publications per second per publisher (0: as fast as the window allows)",
		})}
	case flagXSub:
		return &cli.StringFlag{Name: name, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "lado dos publicadores do proxy (XSUB) de um cluster em execução; exige --xpub",
			EN: "proxy publisher side (XSUB) of a running cluster; needs --xpub",
		})}
	case flagXPub:
		return &cli.StringFlag{Name: name, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "lado dos assinantes do proxy (XPUB) de um cluster em execução; exige --xsub",
			EN: "proxy subscriber side (XPUB) of a running cluster; needs --xsub",
		})}
	case flagKills:
		return &cli.IntFlag{Name: name, Value: d.Kills, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "quantas vezes o coordenador é morto com SIGKILL e reiniciado",
			EN: "times the coordinator is killed with SIGKILL and restarted",
		})}
	case flagSkews:
		return &cli.StringFlag{Name: name, Value: formatSkews(d.Skews), EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "desvios de relógio separados por vírgula, um por servidor, como -1s,0,+1s",
			EN: "comma-separated clock skews, one server each, such as -1s,0,+1s",
		})}
	case flagRounds:
		return &cli.IntFlag{Name: name, Value: d.Rounds, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "rodadas de Berkeley a registrar",
			EN: "Berkeley rounds to record",
		})}
	case flagBerkeleyEvery:
		return &cli.DurationFlag{Name: name, Value: d.BerkeleyEvery, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "período das rodadas de Berkeley dos servidores: definido nos servidores iniciados e esperado nos de um cluster em execução",
			EN: "period of the servers' Berkeley rounds: set on started servers, and expected of a running cluster's",
		})}
	case flagReference:
		return &cli.StringFlag{Name: name, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "referência de um cluster em execução cujos servidores observar, em vez de iniciar outros",
			EN: "reference of a running cluster whose servers to watch instead of starting some",
		})}
	case flagMessages:
		return &cli.IntFlag{Name: name, Value: d.Messages, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "mensagens a guardar",
			EN: "messages to store",
		})}
	case flagFill:
		return &cli.StringFlag{Name: name, Value: d.Fill, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "como guardá-las: push (lotes para o serviço replicate de cada servidor, como faz um par) ou clients (publicações através do broker)",
			EN: "how to store them: push (batches to each server's replicate service, as a peer does) or clients (publish through the broker)",
		})}
	case flagMaxFill:
		return &cli.DurationFlag{Name: name, EnvVars: env, Usage: common.HelpText(lang.Text{
			PT: "para de guardar depois desse tempo e extrapola para --messages (0: sem limite)",
			EN: "stop storing after this long and extrapolate to --messages (0: no limit)",
		})}
	}
	panic("bench: no flag " + name)
}

func scenarioCommand(scenario string, usage lang.Text, names ...string) *cli.Command {
	defaults := DefaultConfig(scenario)
	names = append(names, commonFlags...)
	flags := make([]cli.Flag, 0, len(names)+1)
	for _, name := range names {
		flags = append(flags, flagFor(name, defaults))
	}
	flags = append(flags, common.HelpLangFlag())
	return &cli.Command{
		Name:  scenario,
		Usage: common.HelpText(usage),
		Flags: flags,
		Action: func(c *cli.Context) error {
			cfg, err := configFrom(c, scenario)
			if err != nil {
				return common.StartFailed(err)
			}
			cfg.Log = common.Logger(c, "bench")
			cfg.Progress = terminalStderr()
			// New checks the settings and finds the msgsys executable.
			b, err := New(cfg)
			if err != nil {
				return common.StartFailed(err)
			}
			ctx, stop := common.Context(c)
			defer stop()
			return b.Run(ctx)
		},
	}
}

// positiveFlags are the integer flags that must be at least 1. Config
// reads 0 in their fields as the scenario's default, but a person who gives
// 0 expects no default.
var positiveFlags = []string{flagServers, flagClients, flagSubscribers, flagPublishers, flagSize, flagKills, flagMessages, flagRounds}

// configFrom reads the flags the scenario declares.
func configFrom(c *cli.Context, scenario string) (Config, error) {
	cfg := DefaultConfig(scenario)
	for _, name := range positiveFlags {
		if declares(c, name) && c.Int(name) < 1 {
			return cfg, fmt.Errorf("bench: --%s is %d, want a positive number", name, c.Int(name))
		}
	}
	key, err := common.ClusterKey(c, "bench", lang.EN)
	if err != nil {
		return cfg, err
	}
	cfg.ClusterKey = key
	cfg.JSON = c.Bool(flagJSON)
	cfg.Servers = c.Int(flagServers)
	cfg.ServerArgs = c.StringSlice(flagServerArg)
	cfg.ChildLogLevel = c.String(flagChildLogLevel)
	cfg.Keep = c.Bool(flagKeep)
	cfg.Timeout = c.Duration(flagTimeout)
	cfg.Executable = c.String(flagExecutable)

	// set applies a flag only when this scenario declares it.
	set := func(name string, apply func()) {
		if declares(c, name) {
			apply()
		}
	}

	set(flagService, func() { cfg.Service = c.String(flagService) })
	set(flagClients, func() { cfg.Clients = c.Int(flagClients) })
	set(flagDuration, func() { cfg.Duration = c.Duration(flagDuration) })
	set(flagWarmup, func() { cfg.Warmup = c.Duration(flagWarmup) })
	set(flagSize, func() { cfg.Size = c.Int(flagSize) })
	set(flagFrontend, func() { cfg.Frontend = c.String(flagFrontend) })
	set(flagBaseline, func() { cfg.Baseline = c.Bool(flagBaseline) })
	set(flagPython, func() { cfg.Python = c.String(flagPython) })
	set(flagSubscribers, func() { cfg.Subscribers = c.Int(flagSubscribers) })
	set(flagPublishers, func() { cfg.Publishers = c.Int(flagPublishers) })
	set(flagWindow, func() { cfg.Window = c.Int(flagWindow) })
	set(flagRate, func() { cfg.Rate = c.Int(flagRate) })
	set(flagXSub, func() { cfg.XSub = c.String(flagXSub) })
	set(flagXPub, func() { cfg.XPub = c.String(flagXPub) })
	set(flagKills, func() { cfg.Kills = c.Int(flagKills) })
	set(flagRounds, func() { cfg.Rounds = c.Int(flagRounds) })
	set(flagBerkeleyEvery, func() { cfg.BerkeleyEvery = c.Duration(flagBerkeleyEvery) })
	set(flagReference, func() { cfg.Reference = c.String(flagReference) })
	set(flagMessages, func() { cfg.Messages = c.Int(flagMessages) })
	set(flagFill, func() { cfg.Fill = c.String(flagFill) })
	set(flagMaxFill, func() { cfg.MaxFill = c.Duration(flagMaxFill) })

	set(flagSkews, func() { cfg.Skews, err = parseSkews(c.String(flagSkews)) })
	return cfg, err
}

// declares reports whether the scenario's command has the flag name.
func declares(c *cli.Context, name string) bool {
	for _, f := range c.Command.Flags {
		if f.Names()[0] == name {
			return true
		}
	}
	return false
}

// parseSkews reads "-1s,0,+1s".
func parseSkews(value string) ([]time.Duration, error) {
	var skews []time.Duration
	for part := range strings.SplitSeq(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil {
			return nil, fmt.Errorf("bench: invalid skew %q in --skews: %w", part, err)
		}
		skews = append(skews, d)
	}
	return skews, nil
}

func formatSkews(skews []time.Duration) string {
	parts := make([]string, len(skews))
	for i, d := range skews {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}
