package dump

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/common"
	"msgsys/roles/server"
	"msgsys/store"
)

// dumped is the part of a dump the tests read.
type dumped struct {
	Users []struct {
		Name   string `json:"name"`
		Logins []any  `json:"logins"`
	} `json:"users"`
	Channels []struct {
		Name  string `json:"name"`
		Posts []struct {
			User string `json:"user"`
			Text string `json:"text"`
		} `json:"posts"`
	} `json:"channels"`
	Conversations []struct {
		Users []string `json:"users"`
	} `json:"conversations"`
}

// runDump dumps dir with errors in English.
func runDump(t *testing.T, dir string) (string, error) {
	t.Helper()
	return runDumpIn(t, dir, lang.EN)
}

func runDumpIn(t *testing.T, dir, l string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cfg := DefaultConfig()
	cfg.Data = dir
	cfg.RequestTimeout = 5 * time.Second
	cfg.Out = &out
	cfg.Lang = l
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Run(context.Background())
	return out.String(), err
}

func parseDump(t *testing.T, text string) dumped {
	t.Helper()
	var d dumped
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		t.Fatalf("dump is not JSON: %v\n%s", err, text)
	}
	return d
}

// writeStore creates dir/server.db holding a user, a channel, a post and
// a direct message, and returns the store's own dump of them.
func writeStore(t *testing.T, dir string) string {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, storeFile), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	at := time.Date(2026, 12, 4, 19, 33, 44, 0, time.UTC).UnixNano()
	ops := []store.Op{
		{Kind: store.KindLogin, User: "Ana"},
		{Kind: store.KindLogin, User: "bia"},
		{Kind: store.KindChannel, Channel: "geral"},
		{Kind: store.KindPost, User: "Ana", Channel: "geral", Text: "olá, mundo"},
		{Kind: store.KindDirect, User: "Ana", Peer: "bia", Text: "oi"},
	}
	for i := range ops {
		ops[i].Origin, ops[i].Seq, ops[i].Rank = "server-1@test", uint64(i+1), 1
		ops[i].Clock, ops[i].Time = uint64(i+1), at+int64(i)*int64(time.Millisecond)
	}

	res, err := st.Apply(ops)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != len(ops) {
		t.Fatalf("applied %d of %d ops: %+v", res.Applied, len(ops), res.Ops)
	}

	var want bytes.Buffer
	if err := st.Dump(&want); err != nil {
		t.Fatal(err)
	}
	return want.String()
}

func TestDumpStoppedServer(t *testing.T) {
	dir := t.TempDir()
	want := writeStore(t, dir)

	got, err := runDump(t, dir)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got != want {
		t.Errorf("dump differs from the store's own:\ngot:\n%s\nwant:\n%s", got, want)
	}
	d := parseDump(t, got)
	if len(d.Users) != 2 || d.Users[0].Name != "Ana" {
		t.Errorf("users = %+v, want Ana and bia", d.Users)
	}
	if len(d.Channels) != 1 || len(d.Channels[0].Posts) != 1 || d.Channels[0].Posts[0].Text != "olá, mundo" {
		t.Errorf("channels = %+v, want geral with one post", d.Channels)
	}
	if len(d.Conversations) != 1 {
		t.Errorf("conversations = %+v, want one", d.Conversations)
	}

	// The dump is JSON for programs, the same in every language.
	got, err = runDumpIn(t, dir, lang.PT)
	if err != nil {
		t.Fatalf("Run in Portuguese: %v", err)
	}
	if got != want {
		t.Errorf("dump in Portuguese differs from the store's own:\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for l, want := range map[string][2]string{
		lang.EN: {"dump: data directory is empty: set --data", "dump: timeouts must be positive"},
		lang.PT: {"dump: nenhum diretório de dados informado: defina --data", "dump: os prazos devem ser positivos"},
	} {
		cfg := DefaultConfig()
		cfg.Lang = l
		cfg.Data = ""
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted an empty data directory", l)
		} else if err.Error() != want[0] {
			t.Errorf("%s: empty data directory error = %q, want %q", l, err, want[0])
		}

		cfg = DefaultConfig()
		cfg.Lang = l
		cfg.LockTimeout = 0
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted a zero lock timeout", l)
		} else if !strings.HasPrefix(err.Error(), want[1]) {
			t.Errorf("%s: zero lock timeout error = %q, want it to start with %q", l, err, want[1])
		}
	}
}

func TestDumpMissingStore(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "absent")
	empty := t.TempDir()
	file := filepath.Join(t.TempDir(), "server.db")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, lang, dir, want string
	}{
		{"no directory", lang.EN, absent, "dump: no store: data directory " + absent + " does not exist: set --data"},
		{"no directory", lang.PT, absent, "dump: arquivo de dados não encontrado: o diretório de dados " + absent + " não existe: defina --data"},
		{"no store", lang.EN, empty, "dump: no store: " + empty + " has no server.db: is it a server's data directory"},
		{"no store", lang.PT, empty, "dump: arquivo de dados não encontrado: " + empty + " não tem server.db: é o diretório de dados de um servidor"},
		{"a file", lang.EN, file, "dump: " + file + " is not a directory: set --data"},
		{"a file", lang.PT, file, "dump: " + file + " não é um diretório: defina --data"},
		{"inside a file", lang.PT, filepath.Join(file, "x"), "dump: " + filepath.Join(file, "x") + " não é um diretório"},
	}
	for _, c := range cases {
		t.Run(c.name+"/"+c.lang, func(t *testing.T) {
			out, err := runDumpIn(t, c.dir, c.lang)
			if !errors.Is(err, ErrNoStore) {
				t.Fatalf("Run error = %v, want ErrNoStore", err)
			}
			if !common.IsStartFailure(err) {
				t.Errorf("Run error %q is not marked StartFailed", err)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("error = %q, want it to start with %q", err, c.want)
			}
			if out != "" {
				t.Errorf("printed %q", out)
			}
		})
	}
}

func TestDumpNotAStore(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, storeFile), []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, storeFile)
	for l, want := range map[string]string{
		lang.PT: "dump: o arquivo de dados " + path + " está danificado, e o log de escrita antecipada em " + path + ".wal não pode reconstruí-lo: não há arquivos de segmento.",
		lang.EN: "dump: store " + path + " is damaged, and the write-ahead log in " + path + ".wal cannot rebuild it: no segment files found.",
	} {
		_, err := runDumpIn(t, dir, l)
		if err == nil {
			t.Fatalf("%s: Run succeeded on a file that is not a store", l)
		}
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %q, want it to start with %q", l, err, want)
		}
		if !errors.Is(err, store.ErrDamaged) {
			t.Errorf("%s: error %q does not wrap store.ErrDamaged", l, err)
		}
		if !common.IsStartFailure(err) {
			t.Errorf("%s: error %q is not marked StartFailed", l, err)
		}
	}
}

// TestDumpEmptyStoreFile dumps a data directory whose server.db is empty,
// as a server killed while it created the file leaves it. With no log to
// rebuild it from, dump reports the store as damaged.
func TestDumpEmptyStoreFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, storeFile)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runDumpIn(t, dir, lang.EN)
	if err == nil {
		t.Fatal("Run succeeded on an empty store file")
	}
	if want := "dump: store " + path + " is damaged"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
	if !common.IsStartFailure(err) {
		t.Errorf("error %q is not marked StartFailed", err)
	}
}

// holdStore opens dir's store for writing, as a running server does, until
// the test ends.
func holdStore(t *testing.T, dir string) {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, storeFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
}

func TestDumpLockedWithoutInfoFile(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir)
	holdStore(t, dir)

	_, err := runDump(t, dir)
	if !errors.Is(err, ErrServer) {
		t.Fatalf("Run error = %v, want ErrServer", err)
	}
	if !strings.Contains(err.Error(), server.InfoFile) {
		t.Errorf("error %q does not mention %s", err, server.InfoFile)
	}
}

func TestDumpLockedServerGone(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir)
	holdStore(t, dir)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "tcp://" + ln.Addr().String()
	ln.Close()
	info, err := json.Marshal(serverInfo{Name: "server-9", Addr: addr, PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, server.InfoFile), info, 0o644); err != nil {
		t.Fatal(err)
	}

	for l, question := range map[string]string{lang.EN: "; is it still running?", lang.PT: "; ele ainda está rodando?"} {
		_, err = runDumpIn(t, dir, l)
		if !errors.Is(err, ErrServer) {
			t.Fatalf("%s: Run error = %v, want ErrServer", l, err)
		}
		if !errors.Is(err, proto.ErrUnreachable) {
			t.Errorf("%s: error %q does not wrap proto.ErrUnreachable", l, err)
		}
		// The server may be back at the next try.
		if common.IsStartFailure(err) {
			t.Errorf("%s: error %q of an unreachable server is marked StartFailed", l, err)
		}
		for _, want := range []string{"server-9", addr, question} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not mention %q", l, err, want)
			}
		}
	}
}

func TestDumpRunningServer(t *testing.T) {
	live := startServer(t)
	waitFor(t, 10*time.Second, "server serving", live.server.Serving)
	live.request(t, proto.ServiceLogin, &proto.LoginRequest{User: "Ana"})
	live.request(t, proto.ServiceLogin, &proto.LoginRequest{User: "bia"})
	waitFor(t, 5*time.Second, "server info file", func() bool {
		_, err := os.Stat(filepath.Join(live.data, server.InfoFile))
		return err == nil
	})

	got, err := runDump(t, live.data)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	d := parseDump(t, got)
	var names []string
	for _, u := range d.Users {
		names = append(names, u.Name)
	}
	if strings.Join(names, ",") != "Ana,bia" {
		t.Errorf("users = %v, want [Ana bia]", names)
	}

	copies, err := filepath.Glob(filepath.Join(live.data, "backup-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != 0 {
		t.Errorf("copies left in the data directory: %v", copies)
	}
}

func TestLocalCopyPath(t *testing.T) {
	dir := t.TempDir()
	name := "backup-123.db"
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	got, err := localCopy(lang.EN, dir, "/elsewhere/data/"+name)
	if err != nil || got != filepath.Join(dir, name) {
		t.Errorf("localCopy of a server path = %q, %v; want %s", got, err, filepath.Join(dir, name))
	}
	for _, bad := range []string{"/etc/passwd", filepath.Join(dir, storeFile), "backup-123.db.tmp", filepath.Join(dir, "backup-456.db")} {
		if _, err := localCopy(lang.EN, dir, bad); !errors.Is(err, ErrServer) {
			t.Errorf("localCopy(%q) error = %v, want ErrServer", bad, err)
		}
	}
}

// envKilledWriter names the store file that TestKilledWriterChild writes
// to.
const envKilledWriter = "MSGSYS_DUMP_KILLED_WRITER"

// TestKilledWriterChild applies posts until it is killed, printing the
// seq of each once its log record is synced.
func TestKilledWriterChild(t *testing.T) {
	path := os.Getenv(envKilledWriter)
	if path == "" {
		t.Skip("runs only as the child of TestDumpKilledServer")
	}
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	op := func(seq uint64, kind string) store.Op {
		return store.Op{Origin: "server-1@test", Seq: seq, Rank: 1, Clock: seq, Time: int64(seq), Kind: kind, User: "ana", Channel: "geral"}
	}
	if _, err := st.Apply([]store.Op{op(1, store.KindLogin), op(2, store.KindChannel)}); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(3); ; seq++ {
		post := op(seq, store.KindPost)
		post.Text = fmt.Sprintf("post %d", seq)
		// As a server does: the op is acknowledged once its log record is
		// synced, and reaches the bbolt file with a later commit.
		_, durable, err := st.ApplyAsync([]store.Op{post})
		if err == nil {
			err = durable.Wait()
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("applied %d\n", seq)
	}
}

// killedStore returns a data directory whose writer was killed with
// SIGKILL after it applied at least 300 ops, and the last seq it applied.
func killedStore(t *testing.T) (string, uint64) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, storeFile)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriterChild$")
	cmd.Env = append(os.Environ(), envKilledWriter+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var applied uint64
	lines := bufio.NewScanner(stdout)
	for applied < 300 && lines.Scan() {
		if seq, ok := strings.CutPrefix(lines.Text(), "applied "); ok {
			if applied, err = strconv.ParseUint(seq, 10, 64); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // the child dies of the kill
	if applied < 300 {
		t.Fatalf("the writer applied %d ops before it ended, want 300", applied)
	}
	if !store.Unclean(path) {
		t.Fatal("the killed writer's store is not marked unclean")
	}

	return dir, applied
}

// TestDumpKilledServer dumps the store of a writer killed with SIGKILL,
// whose newest writes are in its write-ahead log only: the dump must hold
// every write the writer saw applied, and leave the files as they were.
func TestDumpKilledServer(t *testing.T) {
	dir, applied := killedStore(t)
	path := filepath.Join(dir, storeFile)

	got, err := runDump(t, dir)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	d := parseDump(t, got)
	if len(d.Channels) != 1 {
		t.Fatalf("dump holds %d channels, want geral", len(d.Channels))
	}
	posts := d.Channels[0].Posts
	if uint64(len(posts)) < applied-2 {
		t.Fatalf("dump holds %d posts, want at least the %d applied", len(posts), applied-2)
	}
	if last := posts[applied-3].Text; last != fmt.Sprintf("post %d", applied) {
		t.Errorf("post %d of the dump is %q, want the last one applied", applied-3, last)
	}
	if !store.Unclean(path) {
		t.Error("the dump changed the server's files: the store is no longer marked unclean")
	}
}

// closedPipe is an output whose reader has gone, as after "| head".
type closedPipe struct{}

func (closedPipe) Write([]byte) (int, error) { return 0, syscall.EPIPE }

// TestDumpKilledServerIntoClosedPipe dumps a killed writer's store into an
// output whose reader has gone: the dump ends without an error and
// removes its recovered copy.
func TestDumpKilledServerIntoClosedPipe(t *testing.T) {
	dir, _ := killedStore(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	cfg := DefaultConfig()
	cfg.Data = dir
	cfg.Out = closedPipe{}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err != nil {
		t.Errorf("Run into a closed pipe: %v, want no error", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the dump left %d entries in TMPDIR, want its copy removed", len(left))
	}
}

// TestDumpRefusalInItsLanguage has a server that runs in English refuse
// the backup of a Portuguese dump, because three copies exist already.
// The dump names its language, so the server's reason is Portuguese too.
func TestDumpRefusalInItsLanguage(t *testing.T) {
	live := startServer(t)
	waitFor(t, 10*time.Second, "server serving", live.server.Serving)
	waitFor(t, 5*time.Second, "server info file", func() bool {
		_, err := os.Stat(filepath.Join(live.data, server.InfoFile))
		return err == nil
	})
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(live.data, fmt.Sprintf("backup-%d.db", i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	_, err := runDumpIn(t, live.data, lang.PT)
	if err == nil {
		t.Fatal("dump succeeded, want the server's refusal")
	}
	if !strings.Contains(err.Error(), "cópias demais em andamento") {
		t.Errorf("error %q, want the server's reason in Portuguese", err)
	}
}
