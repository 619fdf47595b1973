package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"msgsys/election"
	"msgsys/proto"
	"msgsys/replica"
	"msgsys/roles/broker"
	"msgsys/roles/reference"
)

// fuzzServer runs a reference, a broker and one server in this process,
// with logs discarded, until the fuzz test ends, and returns the server
// once it serves and coordinates. Each fuzzing worker process builds its
// own.
func fuzzServer(f *testing.F) *Server {
	f.Helper()
	dir := f.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	discard := slog.New(slog.DiscardHandler)

	refCfg := reference.DefaultConfig()
	refCfg.Bind = "tcp://127.0.0.1:0"
	refCfg.DataDir = filepath.Join(dir, "reference")
	refCfg.Log = discard
	ref, err := reference.New(refCfg)
	if err != nil {
		f.Fatal(err)
	}
	brokerCfg := broker.DefaultConfig()
	brokerCfg.Frontend, brokerCfg.Backend = "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"
	brokerCfg.XSub, brokerCfg.XPub = "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"
	brokerCfg.Log = discard
	b, err := broker.New(brokerCfg)
	if err != nil {
		ref.Close()
		f.Fatal(err)
	}

	cfg := DefaultConfig()
	cfg.Name = "fuzz-1"
	cfg.Addr = "tcp://127.0.0.1:0"
	cfg.Data = filepath.Join(dir, "server")
	cfg.Broker, cfg.Pub, cfg.Sub, cfg.Reference = b.BackendEndpoint(), b.XSubEndpoint(), b.XPubEndpoint(), ref.Endpoint()
	cfg.Log = discard
	cfg.HeartbeatEvery = 100 * time.Millisecond
	cfg.RequestTimeout = time.Second
	cfg.CatchUpTimeout = time.Second
	cfg.RateLimit = 0 // the fuzzer writes far faster than a person
	cfg.Election = election.Config{CheckEvery: 50 * time.Millisecond, CheckTimeout: 100 * time.Millisecond, Misses: 2,
		OKTimeout: 100 * time.Millisecond, AnnounceTimeout: 400 * time.Millisecond}
	cfg.Replica = replica.DefaultConfig()
	srv, err := New(cfg)
	if err != nil {
		ref.Close()
		b.Close()
		f.Fatal(err)
	}

	done := make(chan struct{}, 3)
	go func() { _ = ref.Run(ctx); done <- struct{}{} }()
	go func() { _ = b.Run(ctx); done <- struct{}{} }()
	go func() { _ = srv.Run(ctx); done <- struct{}{} }()
	f.Cleanup(func() {
		cancel()
		for range 3 {
			<-done
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for !srv.Serving() || !srv.node.IsCoordinator() {
		if time.Now().After(deadline) {
			f.Fatal("the fuzz server did not start serving as coordinator within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
	return srv
}

// addSeeds adds the golden frames and requests that stress the decoder
// and each service.
func addSeeds(f *testing.F) {
	f.Helper()
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
	requests := []struct {
		service string
		data    map[string]any
	}{
		{proto.ServiceLogin, map[string]any{"user": "Jose\u0301", "clock": uint64(1<<63 - 1)}},
		{proto.ServiceLogin, map[string]any{"user": []byte("ana"), "clock": int8(-1)}},
		{proto.ServiceChannel, map[string]any{"channel": "#geral", "id": "r1", "timestamp": 1796412824738}},
		{proto.ServicePublish, map[string]any{"user": "ana", "channel": "geral", "message": "oi", "id": "r2", "timestamp": 1.5}},
		{proto.ServiceMessage, map[string]any{"src": "ana", "dst": "ana", "message": "\x00", "timestamp": "2026-12-04T19:33:44"}},
		{proto.ServiceHistory, map[string]any{"channel": "geral", "limit": 1000, "before": "\xff"}},
		{proto.ServiceHistory, map[string]any{"user": "ana", "peer": "ana", "limit": -1}},
		{proto.ServiceUsers, nil},
		{proto.ServiceChannels, map[string]any{"clock": 3.5}},
		{"teleport\xff\xfe", map[string]any{"clock": 1}},
		{"login\xff", map[string]any{"clock": -1}},
	}
	for _, r := range requests {
		frame, err := encodeAny(map[string]any{"service": r.service, "data": r.data})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x82, 0xa7, 's', 'e', 'r', 'v', 'i', 'c', 'e', 0xa5, 'l', 'o', 'g', 'i', 'n', 0xa4, 'd', 'a', 't', 'a', 0x81, 0x01, 0xc0})
}

// FuzzHandleClient feeds arbitrary request frames to the handler of the
// client services of a running server. No input may panic it, and every
// input gets a well-formed reply: an error reply for one that does not
// decode.
func FuzzHandleClient(f *testing.F) {
	addSeeds(f)
	srv := fuzzServer(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		reply := srv.handleClient(ctx, payload)
		if ctx.Err() != nil {
			t.Fatalf("the handler took more than 5s")
		}
		env, err := proto.Decode(reply)
		if err != nil {
			t.Fatalf("reply does not decode: %v", err)
		}
		if env.Service == "" {
			t.Fatal("reply without a service")
		}
		if _, ok, err := env.Data.Timestamp(); !ok || err != nil {
			t.Fatalf("reply timestamp: %v %v", env.Data["timestamp"], err)
		}
		status, _, _ := env.Data.OptString("status")
		if _, err := proto.Decode(payload); err != nil && status != proto.StatusError {
			t.Fatalf("undecodable request (%v) got status %q", err, status)
		}
		if status == proto.StatusError {
			reason, _, _ := env.Data.OptString("description")
			if reason == "" {
				reason, _, _ = env.Data.OptString("message")
			}
			if reason == "" {
				t.Fatalf("error reply without a reason: %v", env.Data)
			}
		}
	})
}
