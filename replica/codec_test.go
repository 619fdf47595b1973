package replica

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"msgsys/proto"
	"msgsys/store"
)

var testMeta = proto.Meta{Timestamp: "2026-12-05T03:00:00.000Z", Clock: 77}

// sampleRequests covers every field, empty optional fields, and strings
// and integers at each boundary of their MessagePack formats.
func sampleRequests(rng *rand.Rand) []*ReplicateRequest {
	reqs := []*ReplicateRequest{
		{Origin: "server-1@abc"},
		{Origin: "server-1@abc", Ops: []store.Op{{Origin: "server-1@abc", Seq: 1, Rank: 1, Clock: 1, Time: 1, Kind: store.KindLogin, User: "ana"}}},
		{Origin: "s@2", Ops: []store.Op{{
			Origin: "s@2", Seq: math.MaxUint64, Rank: math.MinInt64, Clock: proto.MaxClock, Time: math.MaxInt64,
			Kind: store.KindDirect, User: "José", Peer: "Ꮌꮌ", Text: strings.Repeat("é", 40000), RID: "rid-1",
		}}},
	}
	lengths := []int{0, 1, 31, 32, 255, 256, 65535, 65536}
	numbers := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, -1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1}
	for range 50 {
		req := &ReplicateRequest{Origin: "server-3@" + strings.Repeat("x", lengths[rng.IntN(len(lengths))])}
		for range rng.IntN(20) {
			n := numbers[rng.IntN(len(numbers))]
			req.Ops = append(req.Ops, store.Op{
				Origin:  req.Origin,
				Seq:     uint64(max(n, 0)),
				Rank:    n,
				Clock:   uint64(rng.Int64N(int64(proto.MaxClock))),
				Time:    numbers[rng.IntN(len(numbers))],
				Kind:    store.KindPost,
				User:    strings.Repeat("u", rng.IntN(33)),
				Channel: strings.Repeat("c", rng.IntN(3)),
				Text:    strings.Repeat("t", lengths[rng.IntN(len(lengths))]),
				RID:     strings.Repeat("r", rng.IntN(2)*36),
			})
		}
		reqs = append(reqs, req)
	}
	return reqs
}

// TestReplicateCodecMatchesReflection checks that the hand-written codec
// makes the frames the reflective codec makes, byte for byte, and that
// each decodes what the other encodes.
func TestReplicateCodecMatchesReflection(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i, req := range sampleRequests(rng) {
		mine := encodeReplicate(req, testMeta)
		copied := *req
		theirs, err := proto.Encode(ServiceReplicate, &copied, testMeta)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mine, theirs) {
			t.Fatalf("request %d: hand-encoded frame differs from the reflective one:\n% x\n% x", i, head(mine), head(theirs))
		}

		got, err := decodeReplicate(theirs)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		want := *req
		want.Timestamp, want.Clock = testMeta.Timestamp, testMeta.Clock
		if len(want.Ops) == 0 {
			want.Ops = []store.Op{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("request %d: decoded %+v, want %+v", i, got, want)
		}
	}

	for _, reply := range []ReplicateReply{{Status: proto.StatusOK, Have: 0}, {Status: proto.StatusError, Have: math.MaxUint64}, {Status: "sucesso", Have: 70000}} {
		mine := encodeReplicateReply(&reply, testMeta)
		copied := reply
		theirs, err := proto.Encode(ServiceReplicate, &copied, testMeta)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mine, theirs) {
			t.Fatalf("reply %+v: hand-encoded % x, reflective % x", reply, mine, theirs)
		}
		got, err := decodeReplicateReply(theirs)
		if err != nil || got != copied {
			t.Fatalf("reply %+v: decoded %+v, %v", copied, got, err)
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 96)] }

// TestDecodeReplicateLenient reads what other encoders may write: integers
// in wider formats than needed, nil for empty values, keys in another
// order and keys it does not know.
func TestDecodeReplicateLenient(t *testing.T) {
	b := proto.AppendMapHeader(nil, 3)
	b = proto.AppendString(b, "extra")
	b = proto.AppendArrayHeader(b, 1)
	b = append(b, 0xd4, 1, 2) // fixext 1
	b = proto.AppendString(b, "data")
	b = proto.AppendMapHeader(b, 4)
	b = proto.AppendString(b, "ops")
	b = proto.AppendArrayHeader(b, 1)
	b = proto.AppendMapHeader(b, 5)
	b = proto.AppendString(b, "u")
	b = append(b, 0xc0) // nil
	b = proto.AppendString(b, "s")
	b = append(b, 0xcf, 0, 0, 0, 0, 0, 0, 0, 9) // uint 64
	b = proto.AppendString(b, "r")
	b = append(b, 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe) // int 64
	b = proto.AppendString(b, "o")
	b = proto.AppendString(b, "s@1")
	b = proto.AppendString(b, "future")
	b = proto.AppendMapHeader(b, 1)
	b = proto.AppendString(b, "k")
	b = proto.AppendBool(b, true)
	b = proto.AppendString(b, "clock")
	b = append(b, 0xd2, 0, 0, 0, 5) // int 32
	b = proto.AppendString(b, "origin")
	b = proto.AppendString(b, "s@1")
	b = proto.AppendString(b, "timestamp")
	b = append(b, 0xc0)
	b = proto.AppendString(b, "service")
	b = proto.AppendString(b, ServiceReplicate)

	got, err := decodeReplicate(b)
	if err != nil {
		t.Fatal(err)
	}
	want := ReplicateRequest{Origin: "s@1", Clock: 5, Ops: []store.Op{{Origin: "s@1", Seq: 9, Rank: -2}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
}

// TestDecodeReplicateRejects checks that a malformed request fails with an
// error instead of a partial batch or a panic.
func TestDecodeReplicateRejects(t *testing.T) {
	valid := encodeReplicate(&ReplicateRequest{Origin: "s@1", Ops: []store.Op{{Origin: "s@1", Seq: 1, Kind: store.KindLogin, User: "ana"}}}, testMeta)
	if _, err := decodeReplicate(valid); err != nil {
		t.Fatalf("valid request rejected: %v", err)
	}

	withData := func(pairs ...[]byte) []byte {
		b := proto.AppendEnvelope(nil, ServiceReplicate, len(pairs)/2)
		for _, p := range pairs {
			b = append(b, p...)
		}
		return b
	}
	str := func(s string) []byte { return proto.AppendString(nil, s) }
	opWith := func(key string, value []byte) []byte {
		b := proto.AppendArrayHeader(nil, 1)
		b = proto.AppendMapHeader(b, 1)
		b = proto.AppendString(b, key)
		return append(b, value...)
	}
	tooMany := proto.AppendArrayHeader(nil, maxReceivedOps+1)
	tooMany = append(tooMany, bytes.Repeat([]byte{0x80}, maxReceivedOps+1)...)

	cases := map[string][]byte{
		"empty":            nil,
		"not a map":        {0x91, 0x01},
		"truncated":        valid[:len(valid)-3],
		"trailing bytes":   append(bytes.Clone(valid), 0xc0),
		"no service":       proto.AppendMapHeader(nil, 0),
		"other service":    proto.AppendEnvelope(nil, "sync", 0),
		"origin not str":   withData(str("origin"), proto.AppendUint(nil, 3)),
		"ops not array":    withData(str("ops"), str("x")),
		"op not map":       withData(str("ops"), []byte{0x91, 0x01}),
		"negative seq":     withData(str("ops"), opWith("s", proto.AppendInt(nil, -1))),
		"seq as str":       withData(str("ops"), opWith("s", str("1"))),
		"rank beyond":      withData(str("ops"), opWith("r", proto.AppendUint(nil, math.MaxUint64))),
		"text as bin":      withData(str("ops"), opWith("x", []byte{0xc4, 1, 'a'})),
		"negative clock":   withData(str("clock"), proto.AppendInt(nil, -1)),
		"clock beyond":     withData(str("clock"), proto.AppendUint(nil, proto.MaxClock+1)),
		"key not str":      {0x81, 0x01, 0x02},
		"ops beyond bound": withData(str("ops"), tooMany),
		"deep unknown":     withData(str("x"), append(bytes.Repeat([]byte{0x91}, 100), 0xc0)),
		"array beyond end": withData(str("ops"), []byte{0xdd, 0xff, 0xff, 0xff, 0xff}),
	}
	for name, frame := range cases {
		if req, err := decodeReplicate(frame); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, req)
		}
	}

	var fieldErr *proto.FieldError
	if _, err := decodeReplicate(cases["negative clock"]); !errors.As(err, &fieldErr) || fieldErr.Reason != proto.ReasonNegative {
		t.Errorf("negative clock: err = %v, want a FieldError", err)
	}
}

// FuzzDecodeReplicate checks that no input panics the decoder, and that
// whatever it accepts the reflective decoder reads the same way.
func FuzzDecodeReplicate(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, req := range sampleRequests(rng)[:6] {
		f.Add(encodeReplicate(req, testMeta))
	}
	f.Add(encodeReplicateReply(&ReplicateReply{Status: "ok", Have: 3}, testMeta))
	f.Fuzz(func(t *testing.T, frame []byte) {
		got, err := decodeReplicate(frame)
		if reply, replyErr := decodeReplicateReply(frame); replyErr == nil {
			var want ReplicateReply
			if _, err := proto.DecodeInto(frame, &want); err == nil && reply != want {
				t.Fatalf("reply decoded as %+v, reflective decoder gives %+v", reply, want)
			}
		}
		if err != nil {
			return
		}
		var want ReplicateRequest
		if _, err := proto.DecodeInto(frame, &want); err != nil {
			t.Fatalf("accepted % x, which the reflective decoder rejects: %v", frame, err)
		}
		if len(want.Ops) == 0 && len(got.Ops) == 0 {
			want.Ops, got.Ops = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %+v, reflective decoder gives %+v", got, want)
		}
	})
}

// benchRequest is a push of four posts, about what a push carries under
// load with 64 clients.
func benchRequest() *ReplicateRequest {
	req := &ReplicateRequest{Origin: "server-1@1733370000"}
	for i := range 4 {
		req.Ops = append(req.Ops, store.Op{
			Origin: req.Origin, Seq: uint64(1000 + i), Rank: 1, Clock: 5000, Time: 1733370000123456789,
			Kind: store.KindPost, User: "bench_07", Channel: "geral", Text: strings.Repeat("m", 64),
			RID: "2c1f3a4b-5d6e-4f70-8192-a3b4c5d6e7f8",
		})
	}
	return req
}

// BenchmarkReplicateEncode compares the hand-written encoder of a push
// with the reflective one.
func BenchmarkReplicateEncode(b *testing.B) {
	req := benchRequest()
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeReplicate(req, testMeta)
		}
	})
	b.Run("reflection", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Encode(ServiceReplicate, req, testMeta); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReplicateDecode compares the hand-written decoder of a push
// with proto.DecodeInto.
func BenchmarkReplicateDecode(b *testing.B) {
	frame := encodeReplicate(benchRequest(), testMeta)
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeReplicate(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reflection", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req ReplicateRequest
			if _, err := proto.DecodeInto(frame, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
