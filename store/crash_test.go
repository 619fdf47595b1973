package store

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// envCrashChild names the store file that TestCrashChild writes to.
const envCrashChild = "MSGSYS_STORE_CRASH_CHILD"

// TestCrashChild applies batches until it is killed, printing the seq of
// each batch's last op once Apply has returned.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(envCrashChild)
	if path == "" {
		t.Skip("runs only as the child of TestCrashLeavesConsistentStore")
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := newOrigin("s1", 1)
	if _, err := s.Apply([]Op{o.login("ana"), o.channel("geral")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		batch := make([]Op, 0, 50)
		for j := range 50 {
			op := o.post("ana", "geral", fmt.Sprintf("%d.%d", i, j))
			op.RID = fmt.Sprintf("r%d.%d", i, j)
			batch = append(batch, op)
		}
		if _, err := s.Apply(batch); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("applied %d\n", o.seq)
	}
}

// runCrashChild runs TestCrashChild on the store at path, kills it after
// some batches, and returns the last seq it acknowledged.
func runCrashChild(t *testing.T, path string) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), envCrashChild+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acknowledged uint64
	lines := bufio.NewScanner(stdout)
	for batches := 0; batches < 40 && lines.Scan(); batches++ {
		seq, ok := strings.CutPrefix(lines.Text(), "applied ")
		if !ok {
			continue
		}
		if acknowledged, err = strconv.ParseUint(seq, 10, 64); err != nil {
			t.Fatalf("child output %q: %v", lines.Text(), err)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // the child dies of the kill, so its exit status is an error
	if acknowledged == 0 {
		t.Fatal("child acknowledged no batch before it was killed")
	}
	return acknowledged
}

// TestCrashLeavesConsistentStore kills a process in the middle of its
// writes and checks that the store opens with every acknowledged batch and
// with counters, version vector and log that agree.
func TestCrashLeavesConsistentStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	acknowledged := runCrashChild(t, path)

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("open after crash: %v", err)
	}
	defer s.Close()
	err = s.db.View(func(tx *bolt.Tx) error {
		// Check's goroutine reads the transaction until it closes the
		// channel, so every error is drained before View returns.
		for err := range tx.Check() {
			t.Errorf("bbolt consistency check: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	have := s.VersionVector()["s1"]
	if have < acknowledged {
		t.Errorf("version s1 = %d, but the child acknowledged %d", have, acknowledged)
	}
	ops, err := s.OpsAfter("s1", 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(ops)) != have {
		t.Errorf("log holds %d ops, version vector has %d", len(ops), have)
	}
	for i, op := range ops {
		if op.Seq != uint64(i+1) {
			t.Fatalf("log op %d has seq %d", i, op.Seq)
		}
	}
	if got, want := s.Counts(), (Counts{Users: 1, Channels: 1, Posts: int(have) - 2, Logins: 1}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	last := ops[len(ops)-1]
	if found, ok, err := s.LookupRID(last.RID, time.Unix(0, last.Time)); err != nil || !ok || found != last {
		t.Errorf("LookupRID of the last op = %+v, %v, %v", found, ok, err)
	}
	res := mustApply(t, s, Op{Origin: "s1", Seq: have + 1, Clock: last.Clock + 1, Kind: KindPost, User: "ana", Channel: "geral", Text: "after"})
	if res.Ops[0].Status != StatusApplied {
		t.Errorf("apply after crash: %v", res.Ops[0].Status)
	}
}
