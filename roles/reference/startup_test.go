package reference

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"msgsys/internal/testkit"
	"msgsys/lang"
)

// TestStartErrorInvalidBindBeforeData gives --bind values that Listen
// rejects. New must reject them before it creates the data directory.
func TestStartErrorInvalidBindBeforeData(t *testing.T) {
	for _, bind := range []string{"bogus", "tcp://*:99999", "tcp://127.0.0.1"} {
		t.Run(bind, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Bind = bind
			cfg.DataDir = filepath.Join(t.TempDir(), "reference")
			ref, err := New(cfg)
			if err == nil {
				ref.Close()
				t.Fatal("New succeeded, want an error")
			}
			if got, want := lang.Describe(err, lang.PT), `reference: endpoint inválido para a porta de servidores: "`+bind+`" (use tcp://HOST:PORTA)`; got != want {
				t.Errorf("pt = %q, want %q", got, want)
			}
			if got, want := lang.Describe(err, lang.EN), `reference: invalid endpoint for the server port: "`+bind+`" (use tcp://HOST:PORT)`; got != want {
				t.Errorf("en = %q, want %q", got, want)
			}
			if _, err := os.Stat(cfg.DataDir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("data directory %s exists after the rejection, or Stat failed: %v", cfg.DataDir, err)
			}
		})
	}
}

func TestStartErrorsInPortuguese(t *testing.T) {
	ln := testkit.ListenLoopback(t)
	busy := "tcp://" + ln.Addr().String()

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	locked := t.TempDir()
	lockedDB, err := bolt.Open(filepath.Join(locked, dbFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lockedDB.Close()

	cases := []struct {
		name, bind, dir, pt, en string
	}{
		{"port in use", busy, t.TempDir(),
			"reference: não foi possível abrir a porta de servidores " + busy + ": endereço já em uso",
			"reference: cannot open the server port " + busy + ": address already in use"},
		{"directory under a file", busy, filepath.Join(file, "data"),
			"reference: não foi possível criar o diretório de dados " + filepath.Join(file, "data") + ": " + file + ": não é um diretório",
			"reference: cannot create the data directory " + filepath.Join(file, "data") + ": " + file + ": not a directory"},
		{"directory in use", busy, locked,
			"reference: o diretório de dados " + locked + " está em uso por outro processo, provavelmente outra referência com o mesmo --data",
			"reference: the data directory " + locked + " is in use by another process, probably another reference with the same --data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Bind = c.bind
			cfg.DataDir = c.dir
			ref, err := New(cfg)
			if err == nil {
				ref.Close()
				t.Fatal("New succeeded, want an error")
			}
			if got := lang.Describe(err, lang.PT); got != c.pt {
				t.Errorf("pt = %q, want %q", got, c.pt)
			}
			if got := lang.Describe(err, lang.EN); got != c.en {
				t.Errorf("en = %q, want %q", got, c.en)
			}
		})
	}
}
