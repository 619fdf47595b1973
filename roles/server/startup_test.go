package server

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/lang"
	"msgsys/store"
)

// startupConfig is a server configuration that New accepts. New connects
// to nothing, so the endpoints of the broker, the proxy and the reference
// need no listener. The tests make New fail before it binds Addr.
func startupConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.Name = "server-1"
	cfg.Addr = "tcp://127.0.0.1:0"
	cfg.Data = filepath.Join(t.TempDir(), "server-1")
	cfg.Broker, cfg.Pub, cfg.Sub, cfg.Reference = "tcp://127.0.0.1:1", "tcp://127.0.0.1:2", "tcp://127.0.0.1:3", "tcp://127.0.0.1:4"
	cfg.Log = testLogger(t)
	return cfg
}

// startError returns the error of New for cfg, as main prints it in pt
// and in en.
func startError(t *testing.T, cfg Config) (pt, en string) {
	t.Helper()
	s, err := New(cfg)
	if err == nil {
		s.store.Close()
		s.peerLn.Close()
		t.Fatal("New succeeded, want an error")
	}
	return lang.Describe(err, lang.PT), lang.Describe(err, lang.EN)
}

func TestStartErrorPortInUse(t *testing.T) {
	ln := testkit.ListenLoopback(t)
	cfg := startupConfig(t)
	cfg.Bind = "tcp://" + ln.Addr().String()

	pt, en := startError(t, cfg)
	if want := "server: não foi possível abrir a porta entre servidores " + cfg.Bind + ": endereço já em uso"; pt != want {
		t.Errorf("pt = %q, want %q", pt, want)
	}
	if want := "server: cannot open the server-to-server port " + cfg.Bind + ": address already in use"; en != want {
		t.Errorf("en = %q, want %q", en, want)
	}
}

func TestStartErrorDataDirectoryUnderFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := startupConfig(t)
	cfg.Data = filepath.Join(file, "data")

	pt, en := startError(t, cfg)
	if want := "server: não foi possível criar o diretório de dados " + cfg.Data + ": " + file + ": não é um diretório"; pt != want {
		t.Errorf("pt = %q, want %q", pt, want)
	}
	if want := "server: cannot create the data directory " + cfg.Data + ": " + file + ": not a directory"; en != want {
		t.Errorf("en = %q, want %q", en, want)
	}
}

func TestStartErrorInvalidAddr(t *testing.T) {
	cfg := startupConfig(t)
	cfg.Addr = "127.0.0.1:5560"

	pt, en := startError(t, cfg)
	if want := `server: endpoint inválido para a porta entre servidores: "127.0.0.1:5560" (use tcp://HOST:PORTA)`; pt != want {
		t.Errorf("pt = %q, want %q", pt, want)
	}
	if want := `server: invalid endpoint for the server-to-server port: "127.0.0.1:5560" (use tcp://HOST:PORT)`; en != want {
		t.Errorf("en = %q, want %q", en, want)
	}
}

// TestStartErrorInvalidBindBeforeStore gives --bind values that Listen
// rejects. New must reject them before it creates the data directory.
func TestStartErrorInvalidBindBeforeStore(t *testing.T) {
	for _, bind := range []string{"foo", "tcp://*:99999", "tcp://127.0.0.1"} {
		t.Run(bind, func(t *testing.T) {
			cfg := startupConfig(t)
			cfg.Bind = bind

			pt, en := startError(t, cfg)
			if want := `server: endpoint inválido para a porta entre servidores: "` + bind + `" (use tcp://HOST:PORTA)`; pt != want {
				t.Errorf("pt = %q, want %q", pt, want)
			}
			if want := `server: invalid endpoint for the server-to-server port: "` + bind + `" (use tcp://HOST:PORT)`; en != want {
				t.Errorf("en = %q, want %q", en, want)
			}
			if _, err := os.Stat(cfg.Data); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("data directory %s exists after the rejection, or Stat failed: %v", cfg.Data, err)
			}
		})
	}
}

// TestStartErrorDataLocked waits the 2 s that New waits for the lock.
func TestStartErrorDataLocked(t *testing.T) {
	cfg := startupConfig(t)
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		t.Fatal(err)
	}
	lockedStore, err := store.Open(filepath.Join(cfg.Data, "server.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lockedStore.Close()

	pt, _ := startError(t, cfg)
	if want := "server: o diretório de dados " + cfg.Data + " está em uso por outro processo, provavelmente outro servidor com o mesmo --data"; pt != want {
		t.Errorf("pt = %q, want %q", pt, want)
	}
}

// TestStartErrorDamagedStore starts a server whose bbolt file has a
// damaged header and whose write-ahead log is gone, so nothing can rebuild
// the file. The error must tell the operator what to do, and the file
// must stay as it was.
func TestStartErrorDamagedStore(t *testing.T) {
	cfg := startupConfig(t)
	writeHistory(t, cfg.Data, oldHistory(3), 0)
	path := filepath.Join(cfg.Data, "server.db")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clear(data[:8192])
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(path + ".wal"); err != nil {
		t.Fatal(err)
	}

	pt, en := startError(t, cfg)
	wantPT := "server: o banco de dados em " + cfg.Data + " está danificado, e o log de escrita antecipada não tem o necessário para reconstruí-lo. " +
		"Mova ou apague o diretório " + cfg.Data + ": ao iniciar, o servidor copia todos os dados de outro servidor que esteja no ar"
	if pt != wantPT {
		t.Errorf("pt = %q, want %q", pt, wantPT)
	}
	if want := "cannot rebuild it: no segment files found (move or remove the directory " + cfg.Data + ": at start-up the server copies all data from any other server that is up)"; !strings.HasSuffix(en, want) {
		t.Errorf("en = %q, want it to end with %q", en, want)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, data) {
		t.Errorf("the damaged file changed or is gone: %v", err)
	}
}

func TestConfigErrorsNameFlags(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*Config)
		pt, en string
	}{
		{"missing endpoints", func(c *Config) { c.Broker, c.Reference = "", "" },
			"server: faltam valores para --broker, --reference",
			"server: missing settings: --broker, --reference"},
		{"name with a space", func(c *Config) { c.Name = "bad name" },
			`server: --name "bad name": nome inválido: use só letras, dígitos, _, - e .`,
			`server: --name "bad name": invalid name: use only letters, digits, _, - and .`},
		{"reference without tcp", func(c *Config) { c.Reference = "localhost:5559" },
			`server: --reference inválido: "localhost:5559"; use tcp://HOST:PORTA com uma porta de 1 a 65535`,
			`server: invalid --reference "localhost:5559": use tcp://HOST:PORT with a port from 1 to 65535`},
		{"broker without port", func(c *Config) { c.Broker = "tcp://127.0.0.1" },
			`server: --broker inválido: "tcp://127.0.0.1"; use tcp://HOST:PORTA com uma porta de 1 a 65535`,
			`server: invalid --broker "tcp://127.0.0.1": use tcp://HOST:PORT with a port from 1 to 65535`},
		{"sub on every interface", func(c *Config) { c.Sub = "tcp://*:5558" },
			`server: --sub inválido: "tcp://*:5558"; use tcp://HOST:PORTA com uma porta de 1 a 65535`,
			`server: invalid --sub "tcp://*:5558": use tcp://HOST:PORT with a port from 1 to 65535`},
		{"addr on every interface", func(c *Config) { c.Addr = "tcp://*:5560" },
			`server: --addr inválido: "tcp://*:5560"; use tcp://HOST:PORTA com uma porta de 1 a 65535`,
			`server: invalid --addr "tcp://*:5560": use tcp://HOST:PORT with a port from 1 to 65535`},
		{"sync every too long", func(c *Config) { c.SyncEvery = 2 * time.Second },
			"server: --sync-every precisa estar entre 0 e 1s, e não 2s",
			"server: --sync-every must be from 0 to 1s, not 2s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for l, want := range map[string]string{lang.PT: c.pt, lang.EN: c.en} {
				cfg := startupConfig(t)
				cfg.Lang = l
				c.edit(&cfg)
				pt, en := startError(t, cfg)
				got := en
				if l == lang.PT {
					got = pt
				}
				if got != want {
					t.Errorf("%s: error %q, want %q", l, got, want)
				}
				if _, err := os.Stat(cfg.Data); !os.IsNotExist(err) {
					t.Errorf("%s: New created %s before it rejected the config", l, cfg.Data)
				}
			}
		})
	}
}
