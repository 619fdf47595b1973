package broker

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"msgsys/proto"
)

// frameSeparator splits a fuzz input into the frames of one message.
const frameSeparator = 0xfe

// FuzzBrokerRequest feeds arbitrary client messages to the request
// broker's frontend handler while no server is connected, so the broker
// sends each error reply itself and decodes what it can of the body. No input may
// panic it. A message with a delimiter and a body gets exactly one reply,
// its envelope, a delimiter and an error body that decodes; any other
// message gets none.
func FuzzBrokerRequest(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "golden", "*.msgpack"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range paths {
		frame, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]byte{frameSeparator}, frame...)) // REQ: delimiter, body
	}
	f.Add([]byte("no delimiter"))
	f.Add([]byte{frameSeparator})
	f.Add([]byte{'a', frameSeparator, 'b', frameSeparator, frameSeparator, 0x80})
	f.Add([]byte{frameSeparator, 0x81, 0xa7, 's', 'e', 'r', 'v', 'i', 'c', 'e', 0xc4, 0x01, 'x'})
	f.Add([]byte{frameSeparator, 0xdf, 0xff, 0xff, 0xff, 0xff, frameSeparator, 'x'})

	cfg := DefaultConfig()
	cfg.Frontend, cfg.Backend = "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"
	cfg.XSub, cfg.XPub = "", ""
	cfg.QueueTimeout = 0
	cfg.Log = slog.New(slog.DiscardHandler)
	b, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = b.Close() })

	f.Fuzz(func(t *testing.T, input []byte) {
		frames := bytes.Split(input, []byte{frameSeparator})
		id := b.newIdentity()
		c := &client{id: id, idKey: string(id), addr: "fuzz", out: newOutbox(4)}
		b.handleRequest(c, frames)

		c.out.mu.Lock()
		replies := c.out.items
		c.out.mu.Unlock()
		delim := delimiterIndex(frames)
		if delim < 0 || delim == len(frames)-1 {
			if len(replies) != 0 {
				t.Fatalf("%d replies to a message without delimiter or body", len(replies))
			}
			return
		}
		if len(replies) != 1 {
			t.Fatalf("%d replies, want 1", len(replies))
		}
		reply := replies[0]
		if len(reply) != delim+2 || len(reply[delim]) != 0 {
			t.Fatalf("reply of %d frames to a request with %d envelope frames", len(reply), delim)
		}
		for i := range delim {
			if !bytes.Equal(reply[i], frames[i]) {
				t.Fatalf("envelope frame %d is %q, the request's is %q", i, reply[i], frames[i])
			}
		}
		env, err := proto.Decode(reply[delim+1])
		if err != nil {
			t.Fatalf("error reply does not decode: %v", err)
		}
		if status, _, _ := env.Data.OptString("status"); status != proto.StatusError {
			t.Fatalf("reply status %q", status)
		}
		if reason, _, _ := env.Data.OptString("description"); reason == "" {
			t.Fatal("error reply without a description")
		}
	})
}
