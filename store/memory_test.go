package store

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Environment of the million-message memory test, which takes 20 to 30
// seconds on 2 cores and writes a 270 MB file, so it runs only on request:
//
//	MSGSYS_STORE_MILLION=1 go test -run TestMillionMessagesMemory -v ./store/
const (
	envMillion   = "MSGSYS_STORE_MILLION"
	envChildPath = "MSGSYS_STORE_MEMORY_CHILD"
	millionOps   = 1_000_000
	maxRSSBytes  = 100 << 20
)

// TestMillionMessagesMemory fills a store with a million ops and checks the
// resident memory of this process, then of a fresh process that opens the
// store and serves reads, writes and a catch-up, as a server would after a
// restart.
func TestMillionMessagesMemory(t *testing.T) {
	if os.Getenv(envMillion) == "" {
		t.Skipf("set %s=1 to run", envMillion)
	}
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := fillStore(s, millionOps, 1000); err != nil {
		t.Fatal(err)
	}
	t.Logf("filled %d ops in %v: %+v", millionOps, time.Since(start), s.Counts())
	// The store trims its memory map trimInterval after the last write.
	runtime.GC()
	debug.FreeOSMemory()
	rss := residentBytes(t)
	for deadline := time.Now().Add(5 * time.Second); rss > maxRSSBytes && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		rss = residentBytes(t)
	}
	if rss > maxRSSBytes {
		t.Errorf("resident memory after the fill %d MB, want under %d MB", rss>>20, maxRSSBytes>>20)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err == nil {
		t.Logf("file size %d MB", info.Size()>>20)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryChild$", "-test.v")
	cmd.Env = append(os.Environ(), envChildPath+"="+path)
	out, err := cmd.CombinedOutput()
	t.Logf("child output:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if rss := parseField(t, out, "rss_bytes="); rss > maxRSSBytes {
		t.Errorf("resident memory of the restarted process %d MB, want under %d MB", rss>>20, maxRSSBytes>>20)
	}
}

// TestMemoryChild is the process TestMillionMessagesMemory measures.
func TestMemoryChild(t *testing.T) {
	path := os.Getenv(envChildPath)
	if path == "" {
		t.Skip("runs only as the child of TestMillionMessagesMemory")
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("after open: %d MB resident", residentBytes(t)>>20)

	counts := s.Counts()
	for i := range 10 {
		channel := fmt.Sprintf("channel%d", i)
		before := ""
		for range 20 {
			page, next, err := s.History(channel, before, 50)
			if err != nil || len(page) == 0 {
				t.Fatalf("History(%s): %d messages, %v", channel, len(page), err)
			}
			before = next
		}
		if _, _, err := s.Conversation("user0", fmt.Sprintf("user%d", i), "", 50); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Users()
	_ = s.Channels()
	t.Logf("after reads: %d MB resident", residentBytes(t)>>20)

	// A peer catches up on the last 100,000 ops.
	start := time.Now()
	after := uint64(millionOps - 100_000)
	for {
		ops, err := s.OpsAfter("s1", after, 1000, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) == 0 {
			break
		}
		after = ops[len(ops)-1].Seq
	}
	t.Logf("catch-up of 100000 ops took %v", time.Since(start))
	t.Logf("after catch-up: %d MB resident", residentBytes(t)>>20)

	// New writes with fsync, one op per commit.
	o := newOrigin("s2", 2)
	start = time.Now()
	for i := range 1000 {
		if _, err := s.Apply([]Op{o.post("user1", "channel1", fmt.Sprintf("new %d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("1000 single-op commits took %v", time.Since(start))
	if got := s.Counts().Posts; got != counts.Posts+1000 {
		t.Errorf("posts = %d, want %d", got, counts.Posts+1000)
	}

	runtime.GC()
	fmt.Printf("rss_bytes=%d\n", residentBytes(t))
}

// residentBytes reads the process's resident set size (VmRSS) from /proc,
// which counts the pages of the memory-mapped file that the process touched.
func residentBytes(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	t.Logf("resident: anonymous %d kB, file %d kB", parseField(t, status, "RssAnon:"), parseField(t, status, "RssFile:"))
	kb := parseField(t, status, "VmRSS:")
	return kb << 10
}

// parseField returns the integer after the first line that starts with prefix.
func parseField(t *testing.T, text []byte, prefix string) int64 {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			n, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			if err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no %q in:\n%s", prefix, text)
	return 0
}
