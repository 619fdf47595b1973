package store

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestZZFill(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, Options{NoSync: os.Getenv("ZZSYNC") == ""})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		o := 100_000
		if err := fillFrom(s, fmt.Sprintf("o%d", i), o, 1000, os.Getenv("ZZNORID") == ""); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		debug.FreeOSMemory()
		t.Logf("after %d: %d", (i+1)*o, residentBytes(t)>>20)
	}
	info, _ := os.Stat(path)
	t.Logf("size %d MB", info.Size()>>20)
}
