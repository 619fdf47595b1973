package common

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"msgsys/internal/testkit"
	"msgsys/lang"
	"msgsys/proto"
)

// busyEndpoint returns the endpoint of a listener that the test holds.
func busyEndpoint(t *testing.T) string {
	t.Helper()
	return "tcp://" + testkit.ListenLoopback(t).Addr().String()
}

// listenError returns the error of proto.Listen on endpoint.
func listenError(t *testing.T, endpoint string) error {
	t.Helper()
	ln, err := proto.Listen(endpoint, proto.Router, nil)
	if err == nil {
		ln.Close()
		t.Fatalf("proto.Listen(%q) succeeded", endpoint)
	}
	return err
}

func TestStartErrorDescribe(t *testing.T) {
	busy := busyEndpoint(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	underFile := filepath.Join(file, "data")
	notDir := os.MkdirAll(underFile, 0o755)
	if notDir == nil {
		t.Fatalf("MkdirAll(%q) succeeded", underFile)
	}

	cases := []struct {
		name string
		err  *StartError
		want string // in Portuguese
		en   string // in English
	}{
		{"port in use",
			&StartError{Role: "broker", Context: "broker: frontend", Resource: ClientPort, Target: busy, Err: listenError(t, busy)},
			"broker: não foi possível abrir a porta de clientes " + busy + ": endereço já em uso",
			"broker: cannot open the client port " + busy + ": address already in use"},
		{"other scheme",
			&StartError{Role: "broker", Context: "broker: xsub", Resource: PublisherPort, Target: "ipc:///tmp/x", Err: listenError(t, "ipc:///tmp/x")},
			`broker: endpoint inválido para a porta de publicadores: "ipc:///tmp/x" (use tcp://HOST:PORTA)`,
			`broker: invalid endpoint for the publisher port: "ipc:///tmp/x" (use tcp://HOST:PORT)`},
		{"missing port",
			&StartError{Role: "reference", Context: "reference", Resource: ServerPort, Target: "tcp://127.0.0.1", Err: listenError(t, "tcp://127.0.0.1")},
			`reference: endpoint inválido para a porta de servidores: "tcp://127.0.0.1" (use tcp://HOST:PORTA)`,
			`reference: invalid endpoint for the server port: "tcp://127.0.0.1" (use tcp://HOST:PORT)`},
		{"port out of range",
			&StartError{Role: "server", Context: "server", Resource: PeerPort, Target: "tcp://127.0.0.1:99999", Err: listenError(t, "tcp://127.0.0.1:99999")},
			`server: endpoint inválido para a porta entre servidores: "tcp://127.0.0.1:99999" (use tcp://HOST:PORTA)`,
			`server: invalid endpoint for the server-to-server port: "tcp://127.0.0.1:99999" (use tcp://HOST:PORT)`},
		{"invalid endpoint",
			&StartError{Role: "server", Context: "server", Failure: InvalidEndpoint, Resource: PeerPort, Target: "foo", Err: errors.New(`invalid addr "foo": want tcp://HOST:PORT`)},
			`server: endpoint inválido para a porta entre servidores: "foo" (use tcp://HOST:PORTA)`,
			`server: invalid endpoint for the server-to-server port: "foo" (use tcp://HOST:PORT)`},
		{"directory under a file",
			&StartError{Role: "server", Context: "server: data directory", Failure: CreateFailed, Resource: DataDirectory, Target: underFile, Err: notDir},
			"server: não foi possível criar o diretório de dados " + underFile + ": " + file + ": não é um diretório",
			"server: cannot create the data directory " + underFile + ": " + file + ": not a directory"},
		{"path error without errno",
			&StartError{Role: "reference", Context: "reference: open /d/reference.db", Resource: RegistrationFile, Target: "/d/reference.db",
				Err: &os.PathError{Op: "open", Path: "/d/reference.db", Err: os.ErrPermission}},
			"reference: não foi possível abrir o arquivo de registros /d/reference.db: open /d/reference.db: permission denied",
			"reference: cannot open the registration file /d/reference.db: open /d/reference.db: permission denied"},
		{"locked",
			&StartError{Role: "server", Context: "server: open store in /d (is another server using it?)", Failure: Locked, Resource: DataDirectory, Target: "/d", Holder: AnotherServer,
				Err: errors.New("store: failed to open /d/server.db: store: file locked by another process: timeout")},
			"server: o diretório de dados /d está em uso por outro processo, provavelmente outro servidor com o mesmo --data",
			"server: the data directory /d is in use by another process, probably another server with the same --data"},
		{"no system error",
			&StartError{Role: "server", Context: "server: open store in /d", Resource: Database, Target: "/d/server.db",
				Err: errors.New("store: failed to open /d/server.db: store: corrupt data")},
			"server: não foi possível abrir o banco de dados /d/server.db: store: failed to open /d/server.db: store: corrupt data",
			"server: cannot open the database /d/server.db: store: failed to open /d/server.db: store: corrupt data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.err.Describe(lang.PT); got != c.want {
				t.Errorf("Describe(pt) = %q, want %q", got, c.want)
			}
			if got := c.err.Describe(lang.EN); got != c.en {
				t.Errorf("Describe(en) = %q, want %q", got, c.en)
			}
			if got := c.err.Error(); got != c.err.Context+": "+c.err.Err.Error() {
				t.Errorf("Error() = %q, want the context and the cause", got)
			}
		})
	}
}

func TestStartErrorPermissionDenied(t *testing.T) {
	err := &StartError{Role: "server", Context: "server: data directory", Failure: CreateFailed, Resource: DataDirectory, Target: "/data/x",
		Err: &os.PathError{Op: "mkdir", Path: "/data/x", Err: syscall.EACCES}}
	if got, want := err.Describe(lang.PT), "server: não foi possível criar o diretório de dados /data/x: permissão negada"; got != want {
		t.Errorf("Describe(pt) = %q, want %q", got, want)
	}
}

func TestStartErrorThroughDescribe(t *testing.T) {
	busy := busyEndpoint(t)
	start := &StartError{Role: "broker", Context: "broker: backend", Resource: ServerPort, Target: busy, Err: listenError(t, busy)}
	wrapped := fmt.Errorf("cluster: %w", start)

	if got, want := lang.Describe(wrapped, lang.PT), "cluster: broker: não foi possível abrir a porta de servidores "+busy+": endereço já em uso"; got != want {
		t.Errorf("lang.Describe(pt) = %q, want %q", got, want)
	}
	if got, want := lang.Describe(wrapped, lang.EN), "cluster: broker: cannot open the server port "+busy+": address already in use"; got != want {
		t.Errorf("lang.Describe(en) = %q, want %q", got, want)
	}
	if !errors.Is(wrapped, syscall.EADDRINUSE) {
		t.Errorf("%v does not wrap EADDRINUSE", wrapped)
	}
}

func TestStartFailedKeepsText(t *testing.T) {
	busy := busyEndpoint(t)
	cause := fmt.Errorf("broker: frontend: %w", listenError(t, busy))
	marked := StartFailed(cause)

	if got := marked.Error(); got != cause.Error() {
		t.Errorf("Error() = %q, want %q", got, cause.Error())
	}
	if got, want := lang.Describe(marked, lang.PT), lang.Describe(cause, lang.PT); got != want {
		t.Errorf("lang.Describe(pt) = %q, want %q as without the mark", got, want)
	}
	if got := lang.Describe(marked, lang.PT); !strings.HasSuffix(got, ": endereço já em uso") {
		t.Errorf("lang.Describe(pt) = %q, want the system error in Portuguese", got)
	}
	if !errors.Is(marked, syscall.EADDRINUSE) {
		t.Errorf("%v does not wrap EADDRINUSE", marked)
	}
	if StartFailed(nil) != nil {
		t.Error("StartFailed(nil) is not nil")
	}
}

func TestIsStartFailure(t *testing.T) {
	start := &StartError{Role: "server", Context: "server", Resource: PeerPort, Target: "foo", Err: errors.New("invalid")}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"start error", start, true},
		{"wrapped start error", fmt.Errorf("up: %w", start), true},
		{"marked", StartFailed(errors.New("bot: --messages must be at least 1, not 0")), true},
		{"wrapped marked", fmt.Errorf("up: %w", StartFailed(errors.New("x"))), true},
		{"plain", errors.New("up: every server, the broker and the reference have exited"), false},
		{"nil", nil, false},
	}
	for _, c := range cases {
		if got := IsStartFailure(c.err); got != c.want {
			t.Errorf("%s: IsStartFailure(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestStartErrorDamagedWithHint(t *testing.T) {
	err := &StartError{Role: "server", Context: "server: open store in /d", Failure: Damaged, Resource: Database, Target: "/d",
		Err:  errors.New("store: failed to open /d/server.db: store: file is damaged: invalid database, and the write-ahead log in /d/server.db.wal cannot rebuild it: segment 1 is missing"),
		Hint: "move or remove the directory /d: at start-up the server copies all data from any other server that is up"}

	wantPT := "server: o banco de dados em /d está danificado, e o log de escrita antecipada não tem o necessário para reconstruí-lo. " +
		"Mova ou apague o diretório /d: ao iniciar, o servidor copia todos os dados de outro servidor que esteja no ar"
	if got := err.Describe(lang.PT); got != wantPT {
		t.Errorf("Describe(pt) = %q, want %q", got, wantPT)
	}
	wantEN := "server: open store in /d: " + err.Err.Error() + " (" + err.Hint + ")"
	if got := err.Error(); got != wantEN {
		t.Errorf("Error() = %q, want %q", got, wantEN)
	}
	if got := lang.Describe(fmt.Errorf("up: %w", err), lang.PT); got != "up: "+wantPT {
		t.Errorf("lang.Describe(pt) of the wrapped error = %q, want %q", got, "up: "+wantPT)
	}
}

// TestStartErrorNounsInBothLanguages checks that every Resource and Holder
// that a role can name has a noun phrase in each language.
func TestStartErrorNounsInBothLanguages(t *testing.T) {
	for r := DataDirectory; r <= SubscriberPort; r++ {
		for _, l := range []string{lang.PT, lang.EN} {
			if r.In(l) == "" {
				t.Errorf("Resource %d has no text in %s", r, l)
			}
		}
	}
	for h := AnotherServer; h <= AnotherReference; h++ {
		for _, l := range []string{lang.PT, lang.EN} {
			if h.In(l) == "" {
				t.Errorf("Holder %d has no text in %s", h, l)
			}
		}
	}
	if got := Resource(0).In(lang.PT); got != "" {
		t.Errorf("Resource(0).In(pt) = %q, want empty", got)
	}
}

// TestStartErrorEnglishThroughDescribe checks that lang.Describe words an
// invalid endpoint in English too, after the context of the wrapping
// errors, and a port in use, while Error keeps the raw text for logs.
func TestStartErrorEnglishThroughDescribe(t *testing.T) {
	invalid := &StartError{Role: "broker", Context: "broker: frontend", Resource: ClientPort, Target: "foo", Err: listenError(t, "foo")}
	if got, want := lang.Describe(fmt.Errorf("up: %w", invalid), lang.EN), `up: broker: invalid endpoint for the client port: "foo" (use tcp://HOST:PORT)`; got != want {
		t.Errorf("lang.Describe(en) = %q, want %q", got, want)
	}
	if got, want := invalid.Error(), `broker: frontend: proto: endpoint "foo": only tcp:// is supported`; got != want {
		t.Errorf("Error() = %q, want the raw text %q for logs", got, want)
	}

	busy := busyEndpoint(t)
	inUse := &StartError{Role: "broker", Context: "broker: frontend", Resource: ClientPort, Target: busy, Err: listenError(t, busy)}
	if got, want := lang.Describe(inUse, lang.EN), "broker: cannot open the client port "+busy+": address already in use"; got != want {
		t.Errorf("lang.Describe(en) of a port in use = %q, want %q", got, want)
	}
}
