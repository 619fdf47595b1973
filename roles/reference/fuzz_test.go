package reference

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shamaton/msgpack/v2"

	"msgsys/proto"
)

// FuzzReferenceHandle feeds arbitrary request payloads to the reference's
// handler. No input may panic it, and every input gets a well-formed reply
// under a service the reference serves or "error": an error reply with a
// reason for one that does not decode.
func FuzzReferenceHandle(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "golden", "*.msgpack"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range paths {
		frame, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	for _, request := range []map[string]any{
		{"service": "rank", "data": map[string]any{"user": "server-1", "addr": "tcp://127.0.0.1:5560", "rank": 3}},
		{"service": "rank", "data": map[string]any{"user": "Server-1", "rank": -4, "clock": int8(-1)}},
		{"service": "heartbeat", "data": map[string]any{"user": "server-2", "addr": []byte("tcp://x:1")}},
		{"service": "heartbeat", "data": map[string]any{"user": "servers", "timestamp": 1796412824738}},
		{"service": "list", "data": map[string]any{"clock": uint64(1<<64 - 1), "timestamp": "2026-12-04T19:33:44"}},
		{"service": "list\xff", "data": nil},
		{"service": 7, "data": map[string]any{}},
	} {
		frame, err := msgpack.Marshal(request)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x91, 0x91, 0x91, 0x91, 0xc0})

	cfg := DefaultConfig()
	cfg.Bind = "tcp://127.0.0.1:0"
	cfg.DataDir = f.TempDir()
	r, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = r.Close() })

	f.Fuzz(func(t *testing.T, payload []byte) {
		reply := r.handle(payload, "fuzz")
		if reply == nil {
			t.Fatal("no reply")
		}
		env, err := proto.Decode(reply)
		if err != nil {
			t.Fatalf("reply does not decode: %v", err)
		}
		if !knownService(env.Service) && env.Service != proto.ServiceError {
			t.Fatalf("reply under service %q", env.Service)
		}
		if _, ok, err := env.Data.Timestamp(); !ok || err != nil {
			t.Fatalf("reply timestamp: %v %v", env.Data["timestamp"], err)
		}
		status, _, _ := env.Data.OptString("status")
		if _, err := proto.Decode(payload); err != nil && status != proto.StatusError {
			t.Fatalf("undecodable request (%v) got status %q", err, status)
		}
		if status == proto.StatusError {
			if reason, _, _ := env.Data.OptString("description"); reason == "" {
				t.Fatalf("error reply without a readable description: %v", env.Data)
			}
		}
	})
}
