package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"msgsys/internal/testkit"
	"msgsys/lang"
	"msgsys/roles/common"
)

// msgsysRun is the outcome of one run of the binary.
type msgsysRun struct {
	stdout, stderr string
	status         int
}

// lastLine is the last line that the run wrote to stderr.
func (r msgsysRun) lastLine() string {
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	return lines[len(lines)-1]
}

// runMsgsys runs the binary with args and a locale-free environment plus
// env, and returns its output and exit status.
func runMsgsys(t *testing.T, args []string, env ...string) msgsysRun {
	t.Helper()
	// A command that should fail at once but runs on fails the test
	// instead of holding it until go test's own timeout.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=", "LC_MESSAGES=", "LANG=", "MSGSYS_LANG=",
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("msgsys %s still ran after a minute:\n%s", strings.Join(args, " "), stderr.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("msgsys %s did not run: %v", strings.Join(args, " "), err)
	}
	return msgsysRun{stdout: stdout.String(), stderr: stderr.String(), status: cmd.ProcessState.ExitCode()}
}

func TestLangFlagAccepted(t *testing.T) {
	cases := [][]string{
		{"--lang", "en", "--help"},
		{"--lang=en", "--help"},
		{"--lang", "en", "--version"},
		{"--lang", "en", "version"},
		{"version", "--lang", "en"},
		{"version", "--lang", "en", "--help"},
		{"help", "--lang", "en"},
		{"help", "--lang", "en", "server"},
		{"bench", "help", "--lang", "en"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			run := runMsgsys(t, args, "LANG=pt_BR.UTF-8")
			if run.status != 0 {
				t.Errorf("exit status %d, want 0\nstderr:\n%s", run.status, run.stderr)
			}
			if strings.Contains(run.stdout+run.stderr, "not defined") {
				t.Errorf("output rejects a flag:\n%s%s", run.stdout, run.stderr)
			}
			if strings.Contains(run.stdout, "NOME:") || strings.Contains(run.stdout, "OPÇÕES") {
				t.Errorf("help is in Portuguese:\n%s", run.stdout)
			}
		})
	}
}

func TestGlobalLangAppliesToCommand(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "absent")
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"english before command", []string{"--lang", "en", "dump", "--data", absent}, []string{"LANG=pt_BR.UTF-8"}, "dump: no store: data directory"},
		{"over environment", []string{"--lang", "en", "dump", "--data", absent}, []string{"MSGSYS_LANG=pt"}, "dump: no store: data directory"},
		{"command flag wins", []string{"--lang", "en", "dump", "--lang", "pt", "--data", absent}, nil, "dump: arquivo de dados não encontrado"},
		{"portuguese before command", []string{"--lang", "pt", "dump", "--data", absent}, []string{"LANG=en_US.UTF-8"}, "dump: arquivo de dados não encontrado"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := runMsgsys(t, c.args, c.env...)
			if run.status == 0 {
				t.Fatalf("msgsys %s succeeded", strings.Join(c.args, " "))
			}
			if !strings.Contains(run.lastLine(), c.want) {
				t.Errorf("last line %q lacks %q", run.lastLine(), c.want)
			}
		})
	}
}

func TestGlobalLangUnsupportedRejected(t *testing.T) {
	run := runMsgsys(t, []string{"--lang", "fr", "version"})
	if run.status == 0 {
		t.Fatalf("msgsys --lang fr version succeeded:\n%s", run.stdout)
	}
	if want := `msgsys: idioma "fr" não suportado: use pt ou en`; run.lastLine() != want {
		t.Errorf("last line %q, want %q", run.lastLine(), want)
	}

	// The flag before the command reads no environment variable, so a
	// command that shows no text for people ignores MSGSYS_LANG.
	run = runMsgsys(t, []string{"version"}, "MSGSYS_LANG=fr")
	if run.status != 0 {
		t.Errorf("msgsys version with MSGSYS_LANG=fr: exit status %d, want 0\n%s", run.status, run.stderr)
	}
}

// englishUsageWords are words of the English usage errors that a
// Portuguese run must not show.
var englishUsageWords = []string{
	"Incorrect Usage", "flag provided but not defined", "flag needs an argument",
	"invalid value", "invalid boolean value", "could not parse", "No help topic",
}

func TestUsageErrorsPerLanguage(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		env    []string
		pt, en string // last line of stderr
		status int
	}{
		{"unknown flag", []string{"-x"}, nil,
			"msgsys: opção não definida: -x", "msgsys: flag provided but not defined: -x", common.ExitStartFailed},
		{"unknown command flag", []string{"version", "-x"}, nil,
			"msgsys: opção não definida: -x", "msgsys: flag provided but not defined: -x", common.ExitStartFailed},
		{"missing value", []string{"client", "--history"}, nil,
			"msgsys: a opção -history precisa de um valor", "msgsys: flag needs an argument: -history", common.ExitStartFailed},
		{"invalid number", []string{"client", "--history", "abc"}, nil,
			`msgsys: valor inválido "abc" para a opção -history: formato inválido`, `msgsys: invalid value "abc" for flag -history: parse error`, common.ExitStartFailed},
		{"invalid boolean", []string{"up", "--skew=maybe"}, nil,
			`msgsys: valor inválido "maybe" para a opção -skew: use true ou false`, `msgsys: invalid boolean value "maybe" for -skew: parse error`, common.ExitStartFailed},
		{"invalid environment value", []string{"client"}, []string{"MSGSYS_HISTORY=abc"},
			`msgsys: valor inválido "abc" na variável de ambiente MSGSYS_HISTORY, para a opção --history: formato inválido`,
			`msgsys: could not parse "abc" as int value from environment variable "MSGSYS_HISTORY" for flag history: strconv.ParseInt: parsing "abc": invalid syntax`, common.ExitStartFailed},
		{"unknown command", []string{"nosuch"}, nil,
			"msgsys: comando desconhecido: nosuch. Veja a lista de comandos com msgsys --help",
			"msgsys: unknown command: nosuch. See the list of commands with msgsys --help", common.ExitStartFailed},
		{"help of unknown command", []string{"help", "nosuch"}, nil,
			"msgsys: comando desconhecido: nosuch. Veja a lista de comandos com msgsys --help",
			"msgsys: unknown command: nosuch. See the list of commands with msgsys --help", common.ExitStartFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pt := runMsgsys(t, c.args, append([]string{"LANG=pt_BR.UTF-8"}, c.env...)...)
			en := runMsgsys(t, c.args, append([]string{"LANG=pt_BR.UTF-8", "MSGSYS_LANG=en"}, c.env...)...)
			if pt.status != c.status {
				t.Errorf("pt: exit status %d, want %d", pt.status, c.status)
			}
			if en.status != c.status {
				t.Errorf("en: exit status %d, want %d", en.status, c.status)
			}
			if pt.lastLine() != c.pt {
				t.Errorf("pt: last line %q, want %q", pt.lastLine(), c.pt)
			}
			if en.lastLine() != c.en {
				t.Errorf("en: last line %q, want %q", en.lastLine(), c.en)
			}
			for _, word := range englishUsageWords {
				if strings.Contains(pt.stdout+pt.stderr, word) {
					t.Errorf("pt output contains %q:\n%s%s", word, pt.stdout, pt.stderr)
				}
			}
		})
	}
}

// TestUsageUnknownCommandGlobalLang gives --lang en before an unknown
// command, which urfave/cli rejects before the command's flags are read.
func TestUsageUnknownCommandGlobalLang(t *testing.T) {
	run := runMsgsys(t, []string{"--lang", "en", "nosuch"})
	if want := "msgsys: unknown command: nosuch. See the list of commands with msgsys --help"; run.lastLine() != want {
		t.Errorf("last line %q, want %q", run.lastLine(), want)
	}
	if run.status != common.ExitStartFailed {
		t.Errorf("exit status %d, want %d", run.status, common.ExitStartFailed)
	}
}

// TestConfigErrorsPerLanguage runs commands whose flags have values that
// their validation rejects. None of them binds, dials or creates anything
// first, so the default endpoints and data directories are safe.
func TestConfigErrorsPerLanguage(t *testing.T) {
	// A bot that accepted its flags would dial these, and find nothing.
	ports := testkit.LoopbackPorts(t, 2)
	botArgs := func(args ...string) []string {
		return append([]string{"bot", "--broker", endpoint(ports[0]), "--sub", endpoint(ports[1])}, args...)
	}

	// A command that accepted its flags would bind or dial these, and
	// write here.
	free := testkit.LoopbackPorts(t, 5)
	data := t.TempDir()
	longKey := strings.Repeat("x", 256)
	serverArgs := func(args ...string) []string {
		return append([]string{"server", "--name", "s1", "--rank", "1", "--data", filepath.Join(data, "server"),
			"--addr", endpoint(free[0]), "--broker", endpoint(free[1]), "--pub", endpoint(free[2]),
			"--sub", endpoint(free[3]), "--reference", endpoint(free[4])}, args...)
	}
	dataFile := filepath.Join(t.TempDir(), "server.db")
	if err := os.WriteFile(dataFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const keyPT = "a chave do cluster em --cluster-key ou MSGSYS_CLUSTER_KEY tem 256 bytes, mas o ZeroMQ PLAIN aceita no máximo 255: use uma chave mais curta"
	const keyEN = "the cluster key in --cluster-key or MSGSYS_CLUSTER_KEY is 256 bytes long, but ZeroMQ PLAIN accepts at most 255: use a shorter key"

	cases := []struct {
		name   string
		args   []string
		pt, en string // last line of stderr
	}{
		{"reference key too long", []string{"reference", "--bind", endpoint(free[0]), "--data", filepath.Join(data, "reference"), "--cluster-key", longKey},
			"msgsys: reference: " + keyPT, "msgsys: reference: " + keyEN},
		{"broker key too long", []string{"broker", "--frontend", endpoint(free[0]), "--backend", endpoint(free[1]), "--xsub", "", "--xpub", "", "--cluster-key", longKey},
			"msgsys: broker: " + keyPT, "msgsys: broker: " + keyEN},
		{"server key too long", serverArgs("--cluster-key", longKey),
			"msgsys: server: " + keyPT, "msgsys: server: " + keyEN},
		{"status key too long", []string{"status", "--reference", endpoint(free[4]), "--cluster-key", longKey},
			"msgsys: status: " + keyPT, "msgsys: status: " + keyEN},
		{"dump key too long", []string{"dump", "--data", filepath.Join(data, "server"), "--cluster-key", longKey},
			"msgsys: dump: " + keyPT, "msgsys: dump: " + keyEN},
		{"server without workers", serverArgs("--workers", "0"),
			"msgsys: server: --workers precisa ser pelo menos 1, e não 0",
			"msgsys: server: --workers must be at least 1, not 0"},
		{"unknown log level", []string{"--log-level", "bogus", "status", "--reference", endpoint(free[4])},
			`msgsys: valor inválido "bogus" para --log-level ou MSGSYS_LOG_LEVEL: use debug, info, warn ou error`,
			`msgsys: invalid value "bogus" for --log-level or MSGSYS_LOG_LEVEL: use debug, info, warn or error`},
		{"unknown log format", []string{"--log-format", "xml", "status", "--reference", endpoint(free[4])},
			`msgsys: valor inválido "xml" para --log-format ou MSGSYS_LOG_FORMAT: use text ou json`,
			`msgsys: invalid value "xml" for --log-format or MSGSYS_LOG_FORMAT: use text or json`},
		{"up port base too high", []string{"up", "--port-base", "65530"},
			"msgsys: up: --port-base precisa estar entre 1 e 65528 com 3 servidores, porque o cluster usa as portas de base a base+7, e não 65530",
			"msgsys: up: --port-base must be from 1 to 65528 with 3 servers, because the cluster uses the ports from base to base+7, not 65530"},
		{"up without servers", []string{"up", "--servers", "0"},
			"msgsys: up: --servers precisa ser pelo menos 1, e não 0",
			"msgsys: up: --servers must be at least 1, not 0"},
		{"server with max-peers too low", []string{"server", "--name", "server-1", "--max-peers", "1"},
			"msgsys: server: --max-peers precisa ser pelo menos 16, e não 1. Use também pelo menos o número de servidores do cluster menos um, porque eleições e replicação deixam de fora os servidores além do limite",
			"msgsys: server: --max-peers must be at least 16, not 1. Also use at least the number of servers in the cluster minus one, because elections and replication leave out the servers beyond the limit"},
		{"bot without messages", botArgs("--messages", "0"),
			"msgsys: bot: --messages precisa ser pelo menos 1, e não 0",
			"msgsys: bot: --messages must be at least 1, not 0"},
		{"bot with invalid name", botArgs("--user", "bad name"),
			`msgsys: bot: --user inválido: o nome "bad name" só pode ter letras, dígitos, _, - e .`,
			`msgsys: bot: invalid --user: the name "bad name" may only contain letters, digits, _, - and .`},
		{"broker without server credit", []string{"broker", "--server-credit", "0"},
			"msgsys: broker: --server-credit precisa ser pelo menos 1, e não 0",
			"msgsys: broker: --server-credit must be at least 1, not 0"},
		{"broker frontend without backend", []string{"broker", "--backend", ""},
			"msgsys: broker: defina --frontend e --backend juntos, ou deixe os dois vazios",
			"msgsys: broker: set both --frontend and --backend, or neither"},
		{"reference without servers", []string{"reference", "--max-servers", "0"},
			"msgsys: reference: --max-servers precisa ser pelo menos 1, e não 0",
			"msgsys: reference: --max-servers must be at least 1, not 0"},
		{"reference with zero expiry", []string{"reference", "--heartbeat-expiry", "0s"},
			"msgsys: reference: --heartbeat-expiry precisa ser positivo, como 3s, e não 0s",
			"msgsys: reference: --heartbeat-expiry must be positive, such as 3s, not 0s"},
		{"server with invalid name", []string{"server", "--name", "bad name"},
			`msgsys: server: --name "bad name": nome inválido: use só letras, dígitos, _, - e .`,
			`msgsys: server: --name "bad name": invalid name: use only letters, digits, _, - and .`},
		{"server with reference without tcp", []string{"server", "--name", "s1", "--reference", "localhost:5559"},
			`msgsys: server: --reference inválido: "localhost:5559"; use tcp://HOST:PORTA com uma porta de 1 a 65535`,
			`msgsys: server: invalid --reference "localhost:5559": use tcp://HOST:PORT with a port from 1 to 65535`},
		{"server with long sync", []string{"server", "--name", "s1", "--sync-every", "2s"},
			"msgsys: server: --sync-every precisa estar entre 0 e 1s, e não 2s",
			"msgsys: server: --sync-every must be from 0 to 1s, not 2s"},
		{"status with invalid reference", []string{"status", "--reference", "foo"},
			`msgsys: status: --reference inválido: "foo"; use tcp://HOST:PORTA`,
			`msgsys: status: invalid --reference "foo": use tcp://HOST:PORT`},
		{"dump with zero timeout", []string{"dump", "--timeout", "0s"},
			"msgsys: dump: os prazos devem ser positivos, mas --lock-timeout é 300ms e --timeout é 0s",
			"msgsys: dump: timeouts must be positive, but --lock-timeout is 300ms and --timeout is 0s"},
		{"broker with invalid frontend", []string{"broker", "--frontend", "foo", "--backend", endpoint(free[1]), "--xsub", "", "--xpub", ""},
			`msgsys: broker: endpoint inválido para a porta de clientes: "foo" (use tcp://HOST:PORTA)`,
			`msgsys: broker: invalid endpoint for the client port: "foo" (use tcp://HOST:PORT)`},
		{"reference with invalid bind", []string{"reference", "--bind", "bogus", "--data", filepath.Join(data, "reference")},
			`msgsys: reference: endpoint inválido para a porta de servidores: "bogus" (use tcp://HOST:PORTA)`,
			`msgsys: reference: invalid endpoint for the server port: "bogus" (use tcp://HOST:PORT)`},
		{"server with invalid bind", serverArgs("--bind", "foo"),
			`msgsys: server: endpoint inválido para a porta entre servidores: "foo" (use tcp://HOST:PORTA)`,
			`msgsys: server: invalid endpoint for the server-to-server port: "foo" (use tcp://HOST:PORT)`},
		{"dump of a file", []string{"dump", "--data", dataFile},
			"msgsys: dump: " + dataFile + " não é um diretório: defina --data como o diretório de dados de um servidor, não um arquivo dele",
			"msgsys: dump: " + dataFile + " is not a directory: set --data to a server's data directory, not a file in it"},
		{"dump without store", []string{"dump", "--data", data},
			"msgsys: dump: arquivo de dados não encontrado: " + data + " não tem server.db: é o diretório de dados de um servidor, e esse servidor já foi executado?",
			"msgsys: dump: no store: " + data + " has no server.db: is it a server's data directory, and has the server run?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pt := runMsgsys(t, c.args, "LANG=pt_BR.UTF-8")
			en := runMsgsys(t, append(c.args, "--lang", "en"), "LANG=pt_BR.UTF-8")
			if pt.lastLine() != c.pt {
				t.Errorf("pt: last line %q, want %q", pt.lastLine(), c.pt)
			}
			if en.lastLine() != c.en {
				t.Errorf("en: last line %q, want %q", en.lastLine(), c.en)
			}
			if pt.status != common.ExitStartFailed {
				t.Errorf("pt: exit status %d, want %d", pt.status, common.ExitStartFailed)
			}
			if en.status != common.ExitStartFailed {
				t.Errorf("en: exit status %d, want %d", en.status, common.ExitStartFailed)
			}
		})
	}
	// The rejected reference and server created nothing.
	for _, dir := range []string{"reference", "server"} {
		if _, err := os.Stat(filepath.Join(data, dir)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after every command was rejected, or Stat failed: %v", filepath.Join(data, dir), err)
		}
	}
}

// TestUsageErrorsExitStartFailed gives commands invalid flag values, and
// checks that each fails with ExitStartFailed and its own text. probe and
// bench write English for engineers.
func TestUsageErrorsExitStartFailed(t *testing.T) {
	free := endpoint(testkit.LoopbackPorts(t, 1)[0])
	longKey := strings.Repeat("x", 256)
	// A bench that accepted its flags would load this empty port for a
	// second, without starting a cluster.
	bench := func(args ...string) []string {
		return append([]string{"bench", "reqrep", "--frontend", free, "--baseline=false", "--duration", "1s", "--warmup", "0s"}, args...)
	}
	const unsupported = `msgsys: idioma "xx" não suportado: use pt ou en`
	cases := []struct {
		name string
		args []string
		env  []string
		want string // last line of stderr
	}{
		{"status language", []string{"status", "--reference", free, "--lang", "xx"}, nil, unsupported},
		{"status timeout", []string{"status", "--reference", free, "--timeout=-1s"}, nil,
			"msgsys: status: o prazo -1s deve ser positivo: defina --timeout"},
		{"dump language", []string{"dump", "--data", t.TempDir(), "--lang", "xx"}, nil, unsupported},
		{"dump timeout", []string{"dump", "--data", t.TempDir(), "--timeout=-1s"}, nil,
			"msgsys: dump: os prazos devem ser positivos, mas --lock-timeout é 300ms e --timeout é -1s"},
		{"probe timeout", []string{"probe", "--endpoint", free, "--timeout=-1s"}, nil, "msgsys: probe: invalid --timeout -1s: use a positive duration, or 0 for the role's default"},
		{"probe role", []string{"probe", "--endpoint", free, "--role", "nosuch"}, nil,
			`msgsys: probe: invalid role "nosuch": use broker, reference or server`},
		{"probe language", []string{"probe", "--endpoint", free, "--lang", "xx"}, nil, unsupported},
		{"probe language from environment", []string{"probe", "--endpoint", free}, []string{"MSGSYS_LANG=xx"}, unsupported},
		{"probe key too long", []string{"probe", "--endpoint", free, "--cluster-key", longKey}, nil,
			"msgsys: probe: the cluster key in --cluster-key or MSGSYS_CLUSTER_KEY is 256 bytes long, but ZeroMQ PLAIN accepts at most 255: use a shorter key"},
		{"bench scenario", []string{"bench", "nosuch"}, nil,
			`msgsys: unknown scenario "nosuch": use one of reqrep, pubsub, failover, berkeley, catchup, memory`},
		{"bench service", bench("--service", "nosuch"), nil,
			`msgsys: bench: unknown service "nosuch": use one of login, publish, message, users, channels, history`},
		{"bench without clients", bench("--clients", "0"), nil, "msgsys: bench: --clients is 0, want a positive number"},
		{"bench language", bench("--lang", "xx"), nil, unsupported},
		{"bench key too long", bench(), []string{"MSGSYS_CLUSTER_KEY=" + longKey},
			"msgsys: bench: the cluster key in --cluster-key or MSGSYS_CLUSTER_KEY is 256 bytes long, but ZeroMQ PLAIN accepts at most 255: use a shorter key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := runMsgsys(t, c.args, c.env...)
			if run.lastLine() != c.want {
				t.Errorf("last line %q, want %q", run.lastLine(), c.want)
			}
			if run.status != common.ExitStartFailed {
				t.Errorf("exit status %d, want %d", run.status, common.ExitStartFailed)
			}
		})
	}
}

// TestStartUpClusterKeyTooLong gives msgsys up, which has no
// --cluster-key, a key in the environment that every child would reject.
func TestStartUpClusterKeyTooLong(t *testing.T) {
	port := testkit.LoopbackPorts(t, 1)[0]
	args := []string{"up", "--port-base", strconv.Itoa(port), "--data", t.TempDir(), "--bots", "0"}
	key := "MSGSYS_CLUSTER_KEY=" + strings.Repeat("x", 300)

	pt := runMsgsys(t, args, key)
	if want := "msgsys: up: a chave do cluster em MSGSYS_CLUSTER_KEY tem 300 bytes, mas o ZeroMQ PLAIN aceita no máximo 255: use uma chave mais curta"; pt.lastLine() != want {
		t.Errorf("pt: last line %q, want %q", pt.lastLine(), want)
	}
	en := runMsgsys(t, args, key, "MSGSYS_LANG=en")
	if want := "msgsys: up: the cluster key in MSGSYS_CLUSTER_KEY is 300 bytes long, but ZeroMQ PLAIN accepts at most 255: use a shorter key"; en.lastLine() != want {
		t.Errorf("en: last line %q, want %q", en.lastLine(), want)
	}
	if pt.status != common.ExitStartFailed || en.status != common.ExitStartFailed {
		t.Errorf("exit status pt %d, en %d, want %d", pt.status, en.status, common.ExitStartFailed)
	}
}

func TestUsageErrorShowsHelpPerLanguage(t *testing.T) {
	pt := runMsgsys(t, []string{"client", "--nosuch"})
	if !strings.HasPrefix(pt.stdout, "Uso incorreto: opção não definida: -nosuch\n") {
		t.Errorf("pt stdout does not start with the usage error:\n%s", pt.stdout)
	}
	if !strings.Contains(pt.stdout, "OPÇÕES:") {
		t.Errorf("pt stdout lacks the command's help:\n%s", pt.stdout)
	}

	en := runMsgsys(t, []string{"--lang", "en", "client", "--nosuch"})
	if !strings.HasPrefix(en.stdout, "Incorrect Usage: flag provided but not defined: -nosuch\n") {
		t.Errorf("en stdout does not start with the usage error:\n%s", en.stdout)
	}
	if !strings.Contains(en.stdout, "OPTIONS:") {
		t.Errorf("en stdout lacks the command's help:\n%s", en.stdout)
	}
}

func TestDescribeUsageError(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"unknown flag", "flag provided but not defined: -x", "opção não definida: -x"},
		{"bad syntax", "bad flag syntax: ---x", "opção mal escrita: ---x"},
		{"out of range", `invalid value "99999999999999999999" for flag -rank: value out of range`, `valor inválido "99999999999999999999" para a opção -rank: fora do intervalo`},
		{"value with quotes", `invalid value "a\" for flag -b" for flag -user: parse error`, `valor inválido "a\" for flag -b" para a opção -user: formato inválido`},
		{"other reason kept", `invalid value "x" for flag -peers: too many peers`, `valor inválido "x" para a opção -peers: too many peers`},
		{"duration from environment", `could not parse "1x" as duration value from environment variable "MSGSYS_TIMEOUT" for flag timeout: time: unknown unit "x" in duration "1x"`,
			`valor inválido "1x" na variável de ambiente MSGSYS_TIMEOUT, para a opção --timeout: formato inválido`},
		{"value from file kept", `could not parse "x" as int value from file "/run/x" for flag n: parse error`, `could not parse "x" as int value from file "/run/x" for flag n: parse error`},
		{"unquoted value kept", "invalid value abc for flag -n: parse error", "invalid value abc for flag -n: parse error"},
		{"suggestion kept", "No help topic for 'sever'. Did you mean 'server'?", "No help topic for 'sever'. Did you mean 'server'?"},
	}
	for _, c := range cases {
		got, ok := describeUsageError(errors.New(c.text), lang.PT)
		if !ok {
			t.Errorf("%s: %q is not a usage error", c.name, c.text)
			continue
		}
		if got != c.want {
			t.Errorf("%s: describeUsageError(%q) = %q, want %q", c.name, c.text, got, c.want)
		}
		if got, _ := describeUsageError(errors.New(c.text), lang.EN); got != c.text {
			t.Errorf("%s: in en = %q, want the text unchanged", c.name, got)
		}
	}

	if text, ok := describeUsageError(errors.New("server: missing settings: name"), lang.PT); ok {
		t.Errorf("a role's error is a usage error: %q", text)
	}
}

// TestStartErrorLastLine runs a broker on a port that a listener of this
// test holds.
func TestStartErrorLastLine(t *testing.T) {
	ln := testkit.ListenLoopback(t)
	busy := "tcp://" + ln.Addr().String()
	backend := endpoint(testkit.LoopbackPorts(t, 1)[0])
	args := []string{"broker", "--frontend", busy, "--backend", backend, "--xsub", "", "--xpub", ""}

	pt := runMsgsys(t, args)
	if want := "msgsys: broker: não foi possível abrir a porta de clientes " + busy + ": endereço já em uso"; pt.lastLine() != want {
		t.Errorf("pt: last line %q, want %q", pt.lastLine(), want)
	}
	en := runMsgsys(t, args, "MSGSYS_LANG=en")
	if want := "msgsys: broker: cannot open the client port " + busy + ": address already in use"; en.lastLine() != want {
		t.Errorf("en: last line %q, want %q", en.lastLine(), want)
	}
	if pt.status != common.ExitStartFailed || en.status != common.ExitStartFailed {
		t.Errorf("exit status pt %d, en %d, want %d", pt.status, en.status, common.ExitStartFailed)
	}
}

// TestArgumentExamplesFitCommands checks that every command that rejects
// stray arguments has an example in argumentExamples, and that each
// example is that command with one of its own flags.
func TestArgumentExamplesFitCommands(t *testing.T) {
	seen := make(map[string]bool)
	var walk func(commands []*cli.Command, parent string)
	walk = func(commands []*cli.Command, parent string) {
		for _, cmd := range commands {
			name := strings.TrimSpace(parent + " " + cmd.Name)
			walk(cmd.Subcommands, name)
			if cmd.Action == nil || len(cmd.Subcommands) > 0 {
				continue
			}
			seen[name] = true
			example, ok := argumentExamples[name]
			if !ok {
				t.Errorf("msgsys %s has no example in argumentExamples", name)
				continue
			}
			flag, found := strings.CutPrefix(example, "msgsys "+name+" --")
			if !found {
				t.Errorf("example %q of msgsys %s does not start with the command and a flag", example, name)
				continue
			}
			flag, _, _ = strings.Cut(flag, " ")
			if !hasFlag(cmd, flag) {
				t.Errorf("example %q uses --%s, which msgsys %s does not define", example, flag, name)
			}
		}
	}
	walk(newApp(lang.EN).Commands, "")
	for name := range argumentExamples {
		if !seen[name] {
			t.Errorf("argumentExamples has %q, which is no command that rejects arguments", name)
		}
	}
}

// hasFlag reports whether cmd defines the flag name.
func hasFlag(cmd *cli.Command, name string) bool {
	for _, flag := range cmd.Flags {
		if slices.Contains(flag.Names(), name) {
			return true
		}
	}
	return false
}

// TestStrayArgumentExamplePerCommand gives commands that are not roles a
// stray word, and checks that the error's example is the command itself.
func TestStrayArgumentExamplePerCommand(t *testing.T) {
	cases := []struct {
		args   []string
		pt, en string // last line of stderr
	}{
		{[]string{"dump", "extra"},
			`msgsys: argumento inesperado "extra": msgsys dump aceita só opções, como em msgsys dump --data /data`,
			`msgsys: unexpected argument "extra": msgsys dump takes only options, as in msgsys dump --data /data`},
		{[]string{"status", "extra"},
			`msgsys: argumento inesperado "extra": msgsys status aceita só opções, como em msgsys status --reference tcp://127.0.0.1:5559`,
			`msgsys: unexpected argument "extra": msgsys status takes only options, as in msgsys status --reference tcp://127.0.0.1:5559`},
		{[]string{"probe", "extra"},
			`msgsys: argumento inesperado "extra": msgsys probe aceita só opções, como em msgsys probe --role broker`,
			`msgsys: unexpected argument "extra": msgsys probe takes only options, as in msgsys probe --role broker`},
		{[]string{"bench", "reqrep", "extra"},
			`msgsys: argumento inesperado "extra": msgsys bench reqrep aceita só opções, como em msgsys bench reqrep --clients 32`,
			`msgsys: unexpected argument "extra": msgsys bench reqrep takes only options, as in msgsys bench reqrep --clients 32`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			pt := runMsgsys(t, c.args, "LANG=pt_BR.UTF-8")
			en := runMsgsys(t, c.args, "LANG=pt_BR.UTF-8", "MSGSYS_LANG=en")
			if pt.lastLine() != c.pt {
				t.Errorf("pt: last line %q, want %q", pt.lastLine(), c.pt)
			}
			if en.lastLine() != c.en {
				t.Errorf("en: last line %q, want %q", en.lastLine(), c.en)
			}
			if pt.status != common.ExitStartFailed || en.status != common.ExitStartFailed {
				t.Errorf("exit status pt %d, en %d, want %d", pt.status, en.status, common.ExitStartFailed)
			}
		})
	}
}
