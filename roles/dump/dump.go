// Package dump is `msgsys dump`: it prints a server's stored data as JSON.
// A store that no process holds is read in place. A running server holds
// an exclusive lock on its file, so the tool requests a consistent copy
// from a live server (its backup service), reads the copy and deletes it.
package dump

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"msgsys/lang"
	"msgsys/proto"
	"msgsys/roles/common"
	"msgsys/roles/server"
	"msgsys/store"
)

// Defaults of Config.
const (
	// DefaultData is the data directory of a server in the msgsys
	// container image.
	DefaultData = "/data"
	// DefaultLockTimeout is how long to wait for the store's file lock
	// before taking the file for a running server's.
	DefaultLockTimeout = 300 * time.Millisecond
	// DefaultRequestTimeout bounds the backup request. The server copies
	// its whole store before it replies.
	DefaultRequestTimeout = 30 * time.Second
)

// storeFile is the server's store inside its data directory.
const storeFile = "server.db"

// serviceBackup is the server-to-server service that writes a copy of
// the store and returns a server.BackupReply.
const serviceBackup = "backup"

// Errors of the dump package.
var (
	// ErrNoStore means the data directory has no store file.
	ErrNoStore = errors.New("dump: no store")
	// ErrServer means the running server that holds the store did not
	// provide a copy.
	ErrServer = errors.New("dump: running server did not provide a copy")
	// ErrDamaged means the store's bbolt file is damaged and its
	// write-ahead log lacks segments, so no copy can be rebuilt from it.
	ErrDamaged = errors.New("dump: damaged store cannot be rebuilt")
)

// Config configures a dump.
type Config struct {
	// Data is the server's data directory, which holds server.db and,
	// while the server runs, server.json.
	Data string
	// LockTimeout is how long to wait for the store's file lock.
	LockTimeout time.Duration
	// RequestTimeout bounds the backup request to a running server.
	RequestTimeout time.Duration
	// ClusterKey is presented to a running server's endpoint when set.
	ClusterKey string
	// Lang is the language of the errors, lang.PT or lang.EN. When empty,
	// lang.Pick reads LANG. The dump is JSON in both.
	Lang string
	// Out receives the JSON; nil means os.Stdout.
	Out io.Writer

	Clocks proto.Clocks
	Log    *slog.Logger
}

// DefaultConfig returns the settings for the container's data directory.
func DefaultConfig() Config {
	return Config{
		Data:           DefaultData,
		LockTimeout:    DefaultLockTimeout,
		RequestTimeout: DefaultRequestTimeout,
		Clocks:         proto.NewClocks(),
	}
}

// Dump prints one server's data.
type Dump struct {
	cfg Config
}

// New validates cfg. It opens and connects nothing.
func New(cfg Config) (*Dump, error) {
	cfg.Lang = lang.Pick(cfg.Lang)
	if cfg.Data == "" {
		return nil, fail(cfg.Lang, nil, nil, textNoData)
	}
	if cfg.LockTimeout <= 0 || cfg.RequestTimeout <= 0 {
		return nil, fail(cfg.Lang, nil, nil, textBadTimeouts, cfg.LockTimeout, cfg.RequestTimeout)
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clocks.Lamport == nil || cfg.Clocks.Physical == nil {
		cfg.Clocks = proto.NewClocks()
	}
	return &Dump{cfg: cfg}, nil
}

// Run writes the dump to Out and returns. Its errors are in Config.Lang.
// Data may not be a readable data directory of a server: a file, a
// directory without a store, or one with a damaged store. Then the error
// is marked common.StartFailed, because a dump with the same --data fails
// the same way until a person changes it.
func (d *Dump) Run(ctx context.Context) error {
	path := filepath.Join(d.cfg.Data, storeFile)
	if err := checkStoreFile(d.cfg.Lang, d.cfg.Data, path); err != nil {
		return common.StartFailed(err)
	}
	st, err := store.Open(path, store.Options{ReadOnly: true, Timeout: d.cfg.LockTimeout})
	if errors.Is(err, store.ErrDamaged) {
		return d.dumpRebuilt(path, err)
	}
	if err == nil {
		if store.Unclean(path) {
			d.cfg.Log.Warn("server did not stop cleanly: dumping a recovered copy of its store", "path", path)
			return d.dumpRecovered(st, path)
		}
		d.cfg.Log.Debug("dumping store in place", "path", path)
		return dumpAndClose(d.cfg.Lang, st, d.cfg.Out)
	}
	if !errors.Is(err, bolt.ErrTimeout) {
		return common.StartFailed(fail(d.cfg.Lang, nil, err, textFailed, lang.SystemError(err, d.cfg.Lang)))
	}
	d.cfg.Log.Debug("store is locked, asking its server for a copy", "path", path)
	return d.dumpLive(ctx)
}

// dumpRecovered dumps the store of a server that died with writes in its
// write-ahead log that its bbolt file lacks. It copies both to a temporary
// directory while st, open read-only, keeps a starting server waiting, and
// opens the copy, which replays the log as the server would. The server's
// own files stay as they are.
func (d *Dump) dumpRecovered(st *store.Store, path string) error {
	defer st.Close()
	return d.dumpCopy(path, func(copied string) error {
		err := copyFile(path, copied)
		if err == nil {
			err = os.CopyFS(copied+".wal", os.DirFS(path+".wal"))
		}
		st.Close()
		return err
	})
}

// dumpRebuilt dumps the store of a server whose bbolt file bbolt cannot
// open, reported by damage. A starting server would set that file aside
// and rebuild the store from its write-ahead log. The dump rebuilds a copy
// from a copy of the log instead, in a temporary directory, so the
// server's own files stay as they are. A log that lacks segments cannot
// rebuild the store, and the error names them.
//
// NOTE: no lock keeps a server from starting while the log is copied,
// because bbolt takes its lock only on a file it can open. A server that
// starts then appends to the log, and the copy may end in a torn record,
// which the rebuild cuts off as a starting server would.
func (d *Dump) dumpRebuilt(path string, damage error) error {
	var incomplete *store.IncompleteLogError
	if err := store.CheckLog(path); errors.As(err, &incomplete) {
		// The text leaves out bbolt's reason, such as "invalid database".
		d.cfg.Log.Debug("store cannot be read", "path", path, "err", damage)
		return common.StartFailed(fail(d.cfg.Lang, ErrDamaged, errors.Join(damage, err), textLogIncomplete,
			path, path+".wal", missingSegments(d.cfg.Lang, incomplete), d.cfg.Data))
	} else if err != nil {
		return fail(d.cfg.Lang, nil, err, textFailed, lang.SystemError(err, d.cfg.Lang))
	}
	d.cfg.Log.Warn("store file damaged: dumping a copy rebuilt from the write-ahead log", "path", path, "damage", damage)
	return d.dumpCopy(path, func(copied string) error {
		return os.CopyFS(copied+".wal", os.DirFS(path+".wal"))
	})
}

// missingSegments describes in language l the segments that the log
// lacks.
func missingSegments(l string, e *store.IncompleteLogError) string {
	switch {
	case len(e.Missing) == 0:
		return textNoSegments.In(l)
	case e.Single():
		return fmt.Sprintf(textSegmentMissing.In(l), e.Missing[0][0])
	}
	return fmt.Sprintf(textSegmentsMissing.In(l), e.Ranges())
}

// dumpCopy makes a temporary directory and lets fill write the files of
// the store at path into it: the bbolt file at copied, the log at
// copied.wal. It then opens the copy for writing, which recovers or
// rebuilds it as a starting server would, dumps it and removes the
// directory.
func (d *Dump) dumpCopy(path string, fill func(copied string) error) error {
	tmp, err := os.MkdirTemp("", "msgsys-dump-")
	if err != nil {
		return fail(d.cfg.Lang, nil, err, textFailed, lang.SystemError(err, d.cfg.Lang))
	}
	defer os.RemoveAll(tmp)

	// A reader that stops early, as head does, would kill the process with
	// SIGPIPE before the copy is removed. Notified, the signal leaves the
	// process alive, and the write fails with EPIPE instead.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)

	copied := filepath.Join(tmp, storeFile)
	if err := fill(copied); err != nil {
		return fail(d.cfg.Lang, nil, err, textFailed, lang.SystemError(err, d.cfg.Lang))
	}
	recovered, err := store.Open(copied, store.Options{NoSync: true, Timeout: d.cfg.LockTimeout})
	if err != nil {
		return fail(d.cfg.Lang, nil, err, textFailed, lang.SystemError(err, d.cfg.Lang))
	}
	d.cfg.Log.Debug("store copy recovered", "path", path, "replayed", recovered.Recovery().Replayed)
	err = dumpAndClose(d.cfg.Lang, recovered, d.cfg.Out)
	if errors.Is(err, syscall.EPIPE) {
		return nil // the reader has what it wanted
	}
	return err
}

// copyFile copies the file at from to a new file at to.
func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// checkStoreFile explains a missing directory or store file in language
// l.
func checkStoreFile(l, dir, path string) error {
	if info, err := os.Stat(dir); err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fail(l, ErrNoStore, err, textNoDataDir, dir)
		case errors.Is(err, syscall.ENOTDIR):
			return fail(l, ErrNoStore, err, textNotDir, dir)
		case errors.Is(err, fs.ErrPermission):
			return fail(l, nil, err, textDataDirDenied, dir)
		}
		// The text names the directory already, so only the reason follows.
		reason := err
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			reason = pathErr.Err
		}
		return fail(l, nil, err, textDataDir, dir, lang.SystemError(reason, l))
	} else if !info.IsDir() {
		return fail(l, ErrNoStore, nil, textNotDir, dir)
	}
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fail(l, ErrNoStore, err, textNoStoreFile, dir, storeFile)
		}
		return fail(l, nil, err, textFailed, lang.SystemError(err, l))
	}
	if !info.Mode().IsRegular() {
		return fail(l, ErrNoStore, nil, textNotRegular, path)
	}
	return nil
}

func dumpAndClose(l string, st *store.Store, w io.Writer) error {
	err := st.Dump(w)
	if closeErr := st.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fail(l, nil, err, textFailed, lang.SystemError(err, l))
	}
	return nil
}

// serverInfo is the server's info file, server.InfoFile.
type serverInfo struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
	PID  int    `json:"pid"`
}

// dumpLive requests a copy from the server that holds the store, dumps
// the copy and deletes it.
func (d *Dump) dumpLive(ctx context.Context) error {
	info, err := readInfo(d.cfg.Lang, d.cfg.Data)
	if err != nil {
		return err
	}
	copyPath, err := d.requestBackup(ctx, info)
	if err != nil {
		return err
	}
	defer func() {
		if err := os.Remove(copyPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.cfg.Log.Warn("copy of the store not deleted", "path", copyPath, "err", err)
		}
	}()
	st, err := store.Open(copyPath, store.Options{ReadOnly: true, Timeout: d.cfg.LockTimeout})
	if err != nil {
		return fail(d.cfg.Lang, nil, err, textCopyFailed, info.Name, err)
	}
	return dumpAndClose(d.cfg.Lang, st, d.cfg.Out)
}

func readInfo(l, dir string) (serverInfo, error) {
	path := filepath.Join(dir, server.InfoFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return serverInfo{}, fail(l, ErrServer, err, textNoInfoFile, filepath.Join(dir, storeFile), path)
		}
		return serverInfo{}, fail(l, nil, err, textFailed, lang.SystemError(err, l))
	}
	var info serverInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return serverInfo{}, fail(l, nil, err, textInvalidInfo, path, err)
	}
	if info.Addr == "" {
		return serverInfo{}, fail(l, nil, nil, textInfoNoAddr, path)
	}
	return info, nil
}

// requestBackup requests a copy of the server's store and returns the
// copy's path in this process's view of the data directory.
func (d *Dump) requestBackup(ctx context.Context, info serverInfo) (string, error) {
	meta := d.cfg.Clocks.Meta()
	meta.Lang = d.cfg.Lang // the server describes a refusal in it
	frame, err := proto.Encode(serviceBackup, &backupRequest{}, meta)
	if err != nil {
		return "", fail(d.cfg.Lang, nil, err, textFailed, lang.SystemError(err, d.cfg.Lang))
	}
	requester := proto.NewKeyedRequester(info.Addr, d.cfg.ClusterKey)
	defer requester.Close()
	payload, err := requester.Request(ctx, frame, d.cfg.RequestTimeout)
	if err != nil {
		if errors.Is(err, proto.ErrBadKey) || errors.Is(err, proto.ErrKeyMismatch) {
			return "", fail(d.cfg.Lang, ErrServer, err, textKeyRefused, info.Name, info.Addr)
		}
		return "", fail(d.cfg.Lang, ErrServer, err, textNoReply, info.Name, info.Addr, info.PID, err)
	}

	env, err := proto.Decode(payload)
	if err == nil {
		_, err = d.cfg.Clocks.Witness(env.Data)
	}
	if err != nil {
		return "", fail(d.cfg.Lang, ErrServer, err, textInvalidReply, info.Name, err)
	}
	if status, _, _ := env.Data.OptString("status"); !proto.IsSuccess(status) {
		description, _, _ := env.Data.OptString("description")
		return "", fail(d.cfg.Lang, ErrServer, nil, textRejected, info.Name, description)
	}
	var reply server.BackupReply
	if _, err := proto.DecodeInto(payload, &reply); err != nil {
		return "", fail(d.cfg.Lang, ErrServer, err, textInvalidBackup, info.Name, err)
	}
	return localCopy(d.cfg.Lang, d.cfg.Data, reply.Path)
}

// localCopy maps the path the server returned to this process's view of
// the data directory. The server may have been started from another
// working directory or run in a container with the directory mounted
// elsewhere, so only the file name is kept. The name must be one the
// backup service makes, because the tool deletes the file afterwards.
// Errors are in language l.
func localCopy(l, dir, serverPath string) (string, error) {
	name := filepath.Base(filepath.FromSlash(serverPath))
	if !strings.HasPrefix(name, "backup-") || !strings.HasSuffix(name, ".db") {
		return "", fail(l, ErrServer, nil, textUnexpectedPath, serverPath)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", fail(l, ErrServer, err, textCopyMissing, name, dir, err)
	}
	return path, nil
}

// backupRequest is the data of a backup request: the sender's clocks and
// the language of the error description, as client requests carry it.
type backupRequest struct {
	Lang      string `msgpack:"lang,omitempty"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}
