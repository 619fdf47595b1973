//go:build linux

package store

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// mappedKB returns the resident size of the process's memory maps of path,
// from /proc/self/smaps.
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	total := 0
	inFile := false
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			inFile = len(fields) >= 6 && fields[len(fields)-1] == path
		case inFile && len(fields) == 3 && fields[0] == "Rss:":
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatalf("parse smaps line %q: %v", sc.Text(), err)
			}
			total += kb
		}
	}
	return total
}

func TestTrimUnmapsTouchedPages(t *testing.T) {
	s := openTest(t)
	if err := fillStore(s, 20_000, 1000); err != nil {
		t.Fatal(err)
	}
	path := s.db.Path()

	// Read the whole log with trims off, so the pages stay mapped.
	s.trimOff.Store(true)
	if _, err := s.OpsAfter("s1", 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	before := mappedKB(t, path)
	if before < 1024 {
		t.Fatalf("reading the log mapped only %d kB", before)
	}

	s.trimOff.Store(false)
	s.lastTrim.Store(0)
	s.trimAfterWrite()
	after := mappedKB(t, path)
	t.Logf("mapped %d kB before the trim, %d kB after", before, after)
	if after > before/4 {
		t.Errorf("mapped %d kB after the trim, want at most a quarter of %d kB", after, before)
	}

	// The store reads correctly after its pages were unmapped.
	ops, err := s.OpsAfter("s1", 19_990, 0, 0)
	if err != nil || len(ops) != 10 {
		t.Fatalf("OpsAfter after trim: %d ops, %v", len(ops), err)
	}
	if page, _, err := s.History("channel3", "", 50); err != nil || len(page) != 50 {
		t.Fatalf("History after trim: %d messages, %v", len(page), err)
	}
}
