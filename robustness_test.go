package main

// Robustness of the real processes: hostile input to every process that
// decodes, restarts of the broker, the proxy and the reference, a frozen
// server, floods, and clients that join while posts flow. Each test is
// named for the failure it closes; docs/robustness.md lists them.

import (
	"context"
	"fmt"
	binenc "encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"msgsys/proto"
)

// MessagePack written by hand, so that a test controls every byte: the
// integer width of a clock, str against bin, a key that is not a string.

func mpStr(s string) []byte {
	n := len(s)
	var head []byte
	switch {
	case n < 32:
		head = []byte{0xa0 | byte(n)}
	case n < 1<<8:
		head = []byte{0xd9, byte(n)}
	case n < 1<<16:
		head = binenc.BigEndian.AppendUint16([]byte{0xda}, uint16(n))
	default:
		head = binenc.BigEndian.AppendUint32([]byte{0xdb}, uint32(n))
	}
	return append(head, s...)
}

func mpBin(s string) []byte {
	return append(binenc.BigEndian.AppendUint32([]byte{0xc6}, uint32(len(s))), s...)
}

// mpMap encodes a map from alternating encoded keys and values.
func mpMap(kv ...[]byte) []byte {
	n := len(kv) / 2
	out := binenc.BigEndian.AppendUint16([]byte{0xde}, uint16(n))
	for _, item := range kv {
		out = append(out, item...)
	}
	return out
}

func mpArray(items ...[]byte) []byte {
	out := binenc.BigEndian.AppendUint16([]byte{0xdc}, uint16(len(items)))
	for _, item := range items {
		out = append(out, item...)
	}
	return out
}

// mpUint encodes v with the unsigned code given: 0xcc (8 bits) to 0xcf (64).
func mpUint(code byte, v uint64) []byte {
	switch code {
	case 0xcc:
		return []byte{code, byte(v)}
	case 0xcd:
		return binenc.BigEndian.AppendUint16([]byte{code}, uint16(v))
	case 0xce:
		return binenc.BigEndian.AppendUint32([]byte{code}, uint32(v))
	}
	return binenc.BigEndian.AppendUint64([]byte{0xcf}, v)
}

// mpInt encodes v with the signed code given: 0xd0 (8 bits) to 0xd3 (64).
func mpInt(code byte, v int64) []byte {
	switch code {
	case 0xd0:
		return []byte{code, byte(int8(v))}
	case 0xd1:
		return binenc.BigEndian.AppendUint16([]byte{code}, uint16(int16(v)))
	case 0xd2:
		return binenc.BigEndian.AppendUint32([]byte{code}, uint32(int32(v)))
	}
	return binenc.BigEndian.AppendUint64([]byte{0xd3}, uint64(v))
}

func mpFloat64(f float64) []byte {
	return binenc.BigEndian.AppendUint64([]byte{0xcb}, math.Float64bits(f))
}

func mpFloat32(f float32) []byte {
	return binenc.BigEndian.AppendUint32([]byte{0xca}, math.Float32bits(f))
}

var mpNil = []byte{0xc0}

// mpTimestamp is the MessagePack timestamp extension in its 32-bit form.
func mpTimestamp(sec uint32) []byte {
	return binenc.BigEndian.AppendUint32([]byte{0xd6, 0xff}, sec)
}

// mpRequest encodes {"service": service, "data": data}.
func mpRequest(service string, data []byte) []byte {
	return mpMap(mpStr("service"), mpStr(service), mpStr("data"), data)
}

// mpNested is a data map holding an array nested depth times.
func mpNested(depth int) []byte {
	inner := mpStr("deep")
	for range depth {
		inner = append([]byte{0x91}, inner...)
	}
	return mpMap(mpStr("user"), mpStr("ana"), mpStr("x"), inner)
}

// hostileCase is one request and whether the protocol accepts it.
type hostileCase struct {
	name   string
	frame  []byte
	accept bool
}

// clockCases are a service's requests with clocks in every integer width,
// which are accepted, and negative, oversized, fractional and non-numeric
// clocks, which are not. fields are the data map's other keys and values.
func clockCases(service string, fields ...[]byte) []hostileCase {
	with := func(clock []byte) []byte {
		return mpRequest(service, mpMap(append(append([][]byte{}, fields...), mpStr("clock"), clock)...))
	}
	return []hostileCase{
		{"clock positive fixint", with([]byte{0x05}), true},
		{"clock uint8", with(mpUint(0xcc, 200)), true},
		{"clock uint16", with(mpUint(0xcd, 300)), true},
		{"clock uint32", with(mpUint(0xce, 70000)), true},
		{"clock uint64", with(mpUint(0xcf, 5_000_000_000)), true},
		{"clock int8", with(mpInt(0xd0, 7)), true},
		{"clock int16", with(mpInt(0xd1, 301)), true},
		{"clock int32", with(mpInt(0xd2, 70001)), true},
		{"clock int64", with(mpInt(0xd3, 5_000_000_001)), true},
		{"clock nil", with(mpNil), true},
		{"clock negative fixint", with([]byte{0xff}), false},
		{"clock negative int8", with(mpInt(0xd0, -100)), false},
		{"clock negative int64", with(mpInt(0xd3, math.MinInt64)), false},
		{"clock 2^64-1", with(mpUint(0xcf, math.MaxUint64)), false},
		{"clock 2^63", with(mpUint(0xcf, 1<<63)), false},
		{"clock fractional", with(mpFloat64(1.5)), false},
		{"clock string", with(mpStr("5")), false},
		{"clock bool", with([]byte{0xc3}), false},
		{"clock bin", with(mpBin("5")), false},
	}
}

// timestampCases are a service's requests with every timestamp form the
// protocol reads, all of them accepted.
func timestampCases(service string, fields ...[]byte) []hostileCase {
	with := func(stamp []byte) []byte {
		kv := append(append([][]byte{}, fields...), mpStr("clock"), []byte{0x01})
		if stamp != nil {
			kv = append(kv, mpStr("timestamp"), stamp)
		}
		return mpRequest(service, mpMap(kv...))
	}
	return []hostileCase{
		{"timestamp int seconds", with(mpUint(0xce, 1796412824)), true},
		{"timestamp float seconds", with(mpFloat64(1796412824.738)), true},
		{"timestamp float32", with(mpFloat32(1.7964128e9)), true},
		{"timestamp int milliseconds", with(mpUint(0xcf, 1796412824738)), true},
		{"timestamp ISO with zone", with(mpStr("2026-12-04T19:33:44.738Z")), true},
		{"timestamp ISO without zone", with(mpStr("2026-12-04T19:33:44")), true},
		{"timestamp ISO with offset", with(mpStr("2026-12-04T16:33:44-03:00")), true},
		{"timestamp extension", with(mpTimestamp(1796412824)), true},
		{"timestamp nil", with(mpNil), true},
		{"timestamp missing", with(nil), true},
	}
}

// envelopeCases are malformed envelopes, which every decoding process
// must answer with an error reply, and a frame of big bytes, more than
// the process accepts.
func envelopeCases(service string, big int) []hostileCase {
	good := mpRequest(service, mpMap(mpStr("clock"), []byte{0x01}))
	return []hostileCase{
		{"not MessagePack", []byte("hello, world"), false},
		{"empty frame", []byte{}, false},
		{"truncated map", good[:len(good)-3], false},
		{"array instead of map", mpArray(mpStr("service"), mpStr(service)), false},
		{"string instead of map", mpStr(service), false},
		{"empty map", mpMap(), false},
		{"service missing", mpMap(mpStr("data"), mpMap()), false},
		{"service as bin", mpMap(mpStr("service"), mpBin(service), mpStr("data"), mpMap()), false},
		{"service as int", mpMap(mpStr("service"), []byte{0x07}, mpStr("data"), mpMap()), false},
		{"unknown service", mpRequest("no-such-service", mpMap()), false},
		{"data as string", mpMap(mpStr("service"), mpStr(service), mpStr("data"), mpStr("x")), false},
		{"data as array", mpMap(mpStr("service"), mpStr(service), mpStr("data"), mpArray()), false},
		{"integer key at top", mpMap([]byte{0x01}, mpStr(service), mpStr("data"), mpMap()), false},
		{"integer key in data", mpRequest(service, mpMap([]byte{0x01}, mpStr("x"), mpStr("clock"), []byte{0x01})), false},
		{"nil key in data", mpRequest(service, mpMap(mpNil, mpStr("x"))), false},
		{"nesting 200 deep", mpRequest(service, mpNested(200)), false},
		{"nesting 100000 deep", mpRequest(service, mpNested(100000)), false},
		{"map declaring 2^32-1 pairs", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, false},
		{fmt.Sprintf("%d MB frame", big>>20), mpRequest(service, mpMap(mpStr("user"), mpStr(strings.Repeat("a", big)))), false},
	}
}

// textCases are client requests with text as bin, invalid UTF-8 and
// missing fields.
func textCases() []hostileCase {
	clock := [][]byte{mpStr("clock"), []byte{0x01}}
	post := func(user, channel, message []byte) []byte {
		return mpRequest(proto.ServicePublish, mpMap(append(clock, mpStr("user"), user, mpStr("channel"), channel, mpStr("message"), message)...))
	}
	return []hostileCase{
		{"user as bin", mpRequest(proto.ServiceLogin, mpMap(append(clock, mpStr("user"), mpBin("ana"))...)), false},
		{"user invalid UTF-8", mpRequest(proto.ServiceLogin, mpMap(append(clock, mpStr("user"), mpStr("an\xff\xfea"))...)), false},
		{"user overlong UTF-8 encoding", mpRequest(proto.ServiceLogin, mpMap(append(clock, mpStr("user"), mpStr("\xc1\x81na"))...)), false},
		{"user as int", mpRequest(proto.ServiceLogin, mpMap(append(clock, mpStr("user"), []byte{0x01})...)), false},
		{"user missing", mpRequest(proto.ServiceLogin, mpMap(clock...)), false},
		{"data nil", mpMap(mpStr("service"), mpStr(proto.ServiceLogin), mpStr("data"), mpNil), false},
		{"channel as bin", mpRequest(proto.ServiceChannel, mpMap(append(clock, mpStr("channel"), mpBin("geral"))...)), false},
		{"post text as bin", post(mpStr("ana"), mpStr("geral"), mpBin("olá")), false},
		{"post text invalid UTF-8", post(mpStr("ana"), mpStr("geral"), mpStr("ol\xe1")), false},
		{"post text surrogate half", post(mpStr("ana"), mpStr("geral"), mpStr("\xed\xa0\x80")), false},
		{"post channel invalid UTF-8", post(mpStr("ana"), mpStr("ger\xe1l"), mpStr("oi")), false},
		{"post text map", post(mpStr("ana"), mpStr("geral"), mpMap()), false},
		{"direct src as bin", mpRequest(proto.ServiceMessage, mpMap(append(clock, mpStr("src"), mpBin("ana"), mpStr("dst"), mpStr("ana"), mpStr("message"), mpStr("oi"))...)), false},
		{"history limit as string", mpRequest(proto.ServiceHistory, mpMap(append(clock, mpStr("channel"), mpStr("geral"), mpStr("limit"), mpStr("10"))...)), false},
		{"history limit 2^64-1", mpRequest(proto.ServiceHistory, mpMap(append(clock, mpStr("channel"), mpStr("geral"), mpStr("limit"), mpUint(0xcf, math.MaxUint64))...)), false},
		{"history limit negative", mpRequest(proto.ServiceHistory, mpMap(append(clock, mpStr("channel"), mpStr("geral"), mpStr("limit"), []byte{0xff})...)), false},
		{"history cursor garbage", mpRequest(proto.ServiceHistory, mpMap(append(clock, mpStr("channel"), mpStr("geral"), mpStr("before"), mpStr("\x00\xffnot-a-cursor"))...)), false},
	}
}

// replyReason is the explanation of an error reply, under "description"
// or, for publish and message, "message".
func replyReason(d proto.Data) string {
	for _, key := range []string{"description", "message"} {
		if s, ok, _ := d.OptString(key); ok && s != "" {
			return s
		}
	}
	return ""
}

// checkHostile sends every case through r and checks the reply: a
// success for an accepted case, and for a rejected one status "erro" with
// a reason, under the request's service or "error". After every case
// alive must succeed, showing the process still serves.
func checkHostile(t *testing.T, r *proto.Requester, cases []hostileCase, service string, alive func() error) {
	t.Helper()
	for _, c := range cases {
		start := time.Now()
		payload, err := r.Request(context.Background(), c.frame, 10*time.Second)
		if err != nil {
			t.Errorf("%s: no reply: %v", c.name, err)
			continue
		}
		env, err := proto.Decode(payload)
		if err != nil {
			t.Errorf("%s: reply does not decode: %v", c.name, err)
			continue
		}
		if _, err := env.Data.Clock(); err != nil {
			t.Errorf("%s: reply clock: %v", c.name, err)
		}
		if _, ok, err := env.Data.Timestamp(); !ok || err != nil {
			t.Errorf("%s: reply lacks a readable timestamp: %v", c.name, env.Data)
		}
		status, _, _ := env.Data.OptString("status")
		switch {
		case c.accept && status != "" && !proto.IsSuccess(status):
			t.Errorf("%s: rejected: %v", c.name, env.Data)
		case !c.accept && status != proto.StatusError:
			t.Errorf("%s: status %q, want %q; reply %v", c.name, status, proto.StatusError, env.Data)
		case !c.accept && replyReason(env.Data) == "":
			t.Errorf("%s: error reply without a reason: %v", c.name, env.Data)
		case !c.accept && service != "" && env.Service != service && env.Service != proto.ServiceError:
			t.Errorf("%s: error reply under service %q", c.name, env.Service)
		}
		if err := alive(); err != nil {
			t.Fatalf("after %s the process no longer serves: %v", c.name, err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s: took %v", c.name, took)
		}
	}
}

// usersAlive returns a check that a users request through frontend works.
func usersAlive(t *testing.T, frontend string) func() error {
	s := session(t, frontend)
	return func() error {
		_, err := s.Users(context.Background())
		return err
	}
}

func TestHostileClientRequestsGetErrorRepliesAndServerKeepsServing(t *testing.T) {
	s := startStack(t, 1)
	ana := session(t, s.frontend)
	ctx := context.Background()
	if _, err := ana.Login(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	if _, err := ana.CreateChannel(ctx, "geral"); err != nil {
		t.Fatal(err)
	}
	r := proto.NewRequester(s.frontend)
	defer r.Close()
	alive := usersAlive(t, s.frontend)

	login := [][]byte{mpStr("user"), mpStr("ana")}
	post := [][]byte{mpStr("user"), mpStr("ana"), mpStr("channel"), mpStr("geral"), mpStr("message"), mpStr("oi")}
	t.Run("envelopes", func(t *testing.T) { checkHostile(t, r, envelopeCases(proto.ServiceLogin, 5<<20), proto.ServiceLogin, alive) })
	t.Run("text", func(t *testing.T) { checkHostile(t, r, textCases(), "", alive) })
	t.Run("login clocks", func(t *testing.T) {
		checkHostile(t, r, clockCases(proto.ServiceLogin, login...), proto.ServiceLogin, alive)
	})
	t.Run("publish clocks", func(t *testing.T) {
		checkHostile(t, r, clockCases(proto.ServicePublish, post...), proto.ServicePublish, alive)
	})
	t.Run("users clocks", func(t *testing.T) { checkHostile(t, r, clockCases(proto.ServiceUsers), proto.ServiceUsers, alive) })
	t.Run("publish timestamps", func(t *testing.T) {
		checkHostile(t, r, timestampCases(proto.ServicePublish, post...), proto.ServicePublish, alive)
	})
	t.Run("login timestamps", func(t *testing.T) {
		checkHostile(t, r, timestampCases(proto.ServiceLogin, login...), proto.ServiceLogin, alive)
	})
}

func TestClientClockNearMaximumDoesNotPoisonLaterReplies(t *testing.T) {
	s := startStack(t, 1)
	r := proto.NewRequester(s.frontend)
	defer r.Close()
	for _, clock := range []uint64{math.MaxInt64, math.MaxInt64 - 1, 1 << 62} {
		frame := mpRequest(proto.ServiceUsers, mpMap(mpStr("clock"), mpUint(0xcf, clock)))
		payload, err := r.Request(context.Background(), frame, 5*time.Second)
		if err != nil {
			t.Fatalf("clock %d: no reply: %v", clock, err)
		}
		env, err := proto.Decode(payload)
		if err != nil {
			t.Fatalf("clock %d: reply does not decode: %v", clock, err)
		}
		if _, err := env.Data.Clock(); err != nil {
			t.Errorf("clock %d: the reply's own clock is unreadable: %v (%v)", clock, err, env.Data["clock"])
		}
	}
	// Whatever the server made of those clocks, a client that comes later
	// must still be able to read its replies.
	if _, err := session(t, s.frontend).Users(context.Background()); err != nil {
		t.Errorf("a later client cannot read the server's replies: %v", err)
	}
}

func TestHostileReferenceRequestsGetErrorRepliesAndReferenceKeepsServing(t *testing.T) {
	s := startStack(t, 1)
	r := proto.NewRequester(s.refEnd)
	defer r.Close()
	probe := proto.NewRequester(s.refEnd)
	defer probe.Close()
	alive := func() error {
		frame, err := proto.Encode(proto.ServiceList, &proto.EmptyRequest{}, proto.NewClocks().Meta())
		if err != nil {
			return err
		}
		payload, err := probe.Request(context.Background(), frame, 5*time.Second)
		if err != nil {
			return err
		}
		env, err := proto.Decode(payload)
		if err != nil {
			return err
		}
		if list, _ := env.Data["list"].([]any); len(list) != 1 {
			return fmt.Errorf("list %v, want server-1 alone", env.Data["list"])
		}
		return nil
	}
	clock := [][]byte{mpStr("clock"), []byte{0x01}}
	names := []hostileCase{
		{"rank user as bin", mpRequest(proto.ServiceRank, mpMap(append(clock, mpStr("user"), mpBin("server-9"))...)), false},
		{"rank user invalid UTF-8", mpRequest(proto.ServiceRank, mpMap(append(clock, mpStr("user"), mpStr("server-\xff"))...)), false},
		{"rank user with space", mpRequest(proto.ServiceRank, mpMap(append(clock, mpStr("user"), mpStr("server 9"))...)), false},
		{"rank user missing", mpRequest(proto.ServiceRank, mpMap(clock...)), false},
		{"heartbeat user as int", mpRequest(proto.ServiceHeartbeat, mpMap(append(clock, mpStr("user"), []byte{0x09})...)), false},
		{"heartbeat addr as bin", mpRequest(proto.ServiceHeartbeat, mpMap(append(clock, mpStr("user"), mpStr("server-1"), mpStr("addr"), mpBin("tcp://x:1"))...)), false},
	}
	// A list request changes nothing, so it carries the clock and
	// timestamp cases; rank and heartbeat only ever get invalid names here,
	// so that no stray server is registered.
	// The reference reads frames up to proto.MaxFrameBytes.
	big := proto.MaxFrameBytes + 1<<20
	t.Run("envelopes", func(t *testing.T) { checkHostile(t, r, envelopeCases(proto.ServiceList, big), proto.ServiceList, alive) })
	t.Run("names", func(t *testing.T) { checkHostile(t, r, names, "", alive) })
	t.Run("clocks", func(t *testing.T) { checkHostile(t, r, clockCases(proto.ServiceList), proto.ServiceList, alive) })
	t.Run("timestamps", func(t *testing.T) { checkHostile(t, r, timestampCases(proto.ServiceList), proto.ServiceList, alive) })
}

func TestHostilePeerRequestsGetErrorRepliesAndServerKeepsServing(t *testing.T) {
	s := startStack(t, 1)
	r := proto.NewRequester(s.serverAddr["server-1"])
	defer r.Close()
	alive := usersAlive(t, s.frontend)
	// Replication batches are megabytes long, so the peer endpoint reads
	// frames up to proto.MaxFrameBytes.
	big := proto.MaxFrameBytes + 1<<20
	t.Run("envelopes", func(t *testing.T) { checkHostile(t, r, envelopeCases("status", big), "status", alive) })
	t.Run("clocks", func(t *testing.T) { checkHostile(t, r, clockCases("status"), "status", alive) })
	t.Run("timestamps", func(t *testing.T) { checkHostile(t, r, timestampCases("status"), "status", alive) })
	if _, err := serverStatus(s.serverAddr["server-1"], 2*time.Second); err != nil {
		t.Fatalf("status after hostile peer requests: %v", err)
	}
}

func TestHostileRequestsWithNoServerGetErrorRepliesFromBroker(t *testing.T) {
	ports := freePorts(t, 4)
	frontend := endpoint(ports[0])
	startBrokerProc(t, frontend, endpoint(ports[1]), endpoint(ports[2]), endpoint(ports[3]))
	r := proto.NewRequester(frontend)
	defer r.Close()
	waitUntil(t, 10*time.Second, "the broker's frontend", func() bool {
		_, err := r.Request(context.Background(), mpRequest(proto.ServiceUsers, mpMap()), time.Second)
		return err == nil
	})
	// With no server connected the broker itself answers every request,
	// decoding what it can of it.
	var cases []hostileCase
	for _, group := range [][]hostileCase{envelopeCases(proto.ServiceLogin, 5<<20), textCases(), clockCases(proto.ServiceLogin), timestampCases(proto.ServiceLogin)} {
		for _, c := range group {
			c.accept = false
			cases = append(cases, c)
		}
	}
	checkHostile(t, r, cases, "", func() error { return nil })
}
