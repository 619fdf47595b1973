package main

// Robustness of the real processes: hostile input to every process that
// decodes, restarts of the broker, the proxy and the reference, a frozen
// server, floods, and clients that join while posts flow. Each test is
// named for the failure it closes, and docs/robustness.md lists them.

import (
	"bufio"
	"bytes"
	"context"
	binenc "encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"msgsys/proto"
	"msgsys/roles/broker"
	"msgsys/roles/client"
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
	inner := append(bytes.Repeat([]byte{0x91}, depth), mpStr("deep")...) // 0x91: an array of one item
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

// envelopeCases are malformed envelopes, and a frame of big bytes, more
// than the process accepts. Every decoding process must reject each with
// an error reply.
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

// startReadyStack is startStack, returning once a server replies to a
// request through the broker.
func startReadyStack(t *testing.T, servers int) *stack {
	t.Helper()
	s := startStack(t, servers)
	waitAnswered(t, s.frontend)
	return s
}

func TestHostileClientRequestsGetErrorReplies(t *testing.T) {
	s := startReadyStack(t, 1)
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
	t.Run("envelopes", func(t *testing.T) {
		checkHostile(t, r, envelopeCases(proto.ServiceLogin, 5<<20), proto.ServiceLogin, alive)
	})
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

func TestClockNearMaximumKeepsRepliesReadable(t *testing.T) {
	s := startReadyStack(t, 1)
	r := proto.NewRequester(s.frontend)
	defer r.Close()
	// The first values are invalid input, and the last ones are valid
	// clocks just under the maximum, which move every process's clock no
	// further than its ceiling (clock.WitnessCeiling).
	for _, clock := range []uint64{math.MaxInt64, math.MaxInt64 - 1, 1 << 62, proto.MaxClock - 1000, proto.MaxClock} {
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
	// must still be able to read its replies, after many more ticks.
	later := session(t, s.frontend)
	for i := range 50 {
		if _, err := later.Users(context.Background()); err != nil {
			t.Fatalf("request %d: a later client cannot read the server's replies: %v", i, err)
		}
	}
}

func TestHostileReferenceRequestsGetErrorReplies(t *testing.T) {
	s := startReadyStack(t, 1)
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
	// A list request changes nothing, so it carries the clock and
	// timestamp cases. Rank and heartbeat requests get only invalid names
	// here, so that no stray server is registered.
	clock := [][]byte{mpStr("clock"), []byte{0x01}}
	names := []hostileCase{
		{"rank user as bin", mpRequest(proto.ServiceRank, mpMap(append(clock, mpStr("user"), mpBin("server-9"))...)), false},
		{"rank user invalid UTF-8", mpRequest(proto.ServiceRank, mpMap(append(clock, mpStr("user"), mpStr("server-\xff"))...)), false},
		{"rank user with space", mpRequest(proto.ServiceRank, mpMap(append(clock, mpStr("user"), mpStr("server 9"))...)), false},
		{"rank user missing", mpRequest(proto.ServiceRank, mpMap(clock...)), false},
		{"heartbeat user as int", mpRequest(proto.ServiceHeartbeat, mpMap(append(clock, mpStr("user"), []byte{0x09})...)), false},
		{"heartbeat addr as bin", mpRequest(proto.ServiceHeartbeat, mpMap(append(clock, mpStr("user"), mpStr("server-1"), mpStr("addr"), mpBin("tcp://x:1"))...)), false},
	}

	// The reference reads frames up to proto.MaxFrameBytes.
	big := proto.MaxFrameBytes + 1<<20
	t.Run("envelopes", func(t *testing.T) {
		checkHostile(t, r, envelopeCases(proto.ServiceList, big), proto.ServiceList, alive)
	})
	t.Run("names", func(t *testing.T) { checkHostile(t, r, names, "", alive) })
	t.Run("clocks", func(t *testing.T) { checkHostile(t, r, clockCases(proto.ServiceList), proto.ServiceList, alive) })
	t.Run("timestamps", func(t *testing.T) { checkHostile(t, r, timestampCases(proto.ServiceList), proto.ServiceList, alive) })
}

func TestHostilePeerRequestsGetErrorReplies(t *testing.T) {
	s := startReadyStack(t, 1)
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

func TestBrokerAloneRepliesToHostileRequests(t *testing.T) {
	ports := freePorts(t, 4)
	frontend := endpoint(ports[0])
	startBrokerProc(t, frontend, endpoint(ports[1]), endpoint(ports[2]), endpoint(ports[3]))
	r := proto.NewRequester(frontend)
	defer r.Close()
	waitUntil(t, 10*time.Second, "the broker's frontend", func() bool {
		_, err := r.Request(context.Background(), mpRequest(proto.ServiceUsers, mpMap()), time.Second)
		return err == nil
	})
	// With no server connected, the broker itself sends the error reply to
	// every request, decoding what it can of it.
	var cases []hostileCase
	for _, group := range [][]hostileCase{envelopeCases(proto.ServiceLogin, 5<<20), textCases(), clockCases(proto.ServiceLogin), timestampCases(proto.ServiceLogin)} {
		for _, c := range group {
			c.accept = false
			cases = append(cases, c)
		}
	}
	checkHostile(t, r, cases, "", func() error { return nil })
}

// rawDealer is a DEALER connection whose replies arrive on a channel.
type rawDealer struct {
	conn    *proto.Conn
	replies chan [][]byte
}

func dialDealer(t *testing.T, frontend string) *rawDealer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := proto.Dial(ctx, frontend, proto.Dealer, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d := &rawDealer{conn: conn, replies: make(chan [][]byte, 16)}
	// The reader ends when the connection closes at the end of the test.
	t.Cleanup(func() { conn.Close() })
	go func() {
		for {
			frames, err := conn.Recv()
			if err != nil {
				return
			}
			select {
			case d.replies <- frames:
			case <-conn.Done():
				return
			}
		}
	}()
	return d
}

// next returns the next reply, or nil after timeout.
func (d *rawDealer) next(timeout time.Duration) [][]byte {
	select {
	case frames := <-d.replies:
		return frames
	case <-time.After(timeout):
		return nil
	}
}

func TestWrongFrameCountsGetErrorReplies(t *testing.T) {
	s := startReadyStack(t, 1)
	alive := usersAlive(t, s.frontend)
	good := mpRequest(proto.ServiceUsers, mpMap(mpStr("clock"), []byte{0x01}))
	d := dialDealer(t, s.frontend)

	checkErrorReply := func(what string, frames [][]byte, envelope int) {
		t.Helper()
		if len(frames) != envelope+2 || len(frames[envelope]) != 0 {
			t.Errorf("%s: reply of %d frames %q, want %d envelope frames, a delimiter and a body", what, len(frames), frames, envelope)
			return
		}
		env, err := proto.Decode(frames[envelope+1])
		if err != nil {
			t.Errorf("%s: reply does not decode: %v", what, err)
			return
		}
		if status, _, _ := env.Data.OptString("status"); status != proto.StatusError || replyReason(env.Data) == "" {
			t.Errorf("%s: reply %v, want an error with a reason", what, env.Data)
		}
	}

	// A body followed by one frame too many, or preceded by an empty one:
	// one frame too many after the delimiter either way. Without an error
	// reply the broker would wait out its request timeout and then take
	// the server for stalled, failing everyone's requests.
	for _, c := range []struct {
		name   string
		frames [][]byte
	}{
		{"extra frame after the body", [][]byte{{}, good, []byte("extra")}},
		{"empty frame before the body", [][]byte{{}, {}, good}},
	} {
		start := time.Now()
		if err := d.conn.Send(c.frames...); err != nil {
			t.Fatal(err)
		}
		if reply := d.next(5 * time.Second); reply == nil {
			t.Errorf("%s: no reply", c.name)
		} else {
			checkErrorReply(c.name, reply, 0)
			if took := time.Since(start); took > time.Second {
				t.Errorf("%s: error reply after %v", c.name, took)
			}
		}
		if err := alive(); err != nil {
			t.Errorf("after %s the broker no longer serves: %v", c.name, err)
		}
	}

	// Routing frames before the delimiter are a DEALER's right: the reply
	// carries them back.
	if err := d.conn.Send([]byte("a"), []byte("b"), []byte{}, good); err != nil {
		t.Fatal(err)
	}
	reply := d.next(5 * time.Second)
	if len(reply) != 4 || string(reply[0]) != "a" || string(reply[1]) != "b" || len(reply[2]) != 0 {
		t.Fatalf("reply to an envelope of two frames: %q", reply)
	}

	// Too few frames: a body with no delimiter, or a delimiter with no
	// body. A reply to either could not take the form the client expects,
	// so the broker drops them. It must go on serving the same connection.
	for _, frames := range [][][]byte{{good}, {{}}, {[]byte("a"), {}}} {
		if err := d.conn.Send(frames...); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.conn.Send([]byte{}, good); err != nil {
		t.Fatal(err)
	}
	for {
		reply := d.next(5 * time.Second)
		if reply == nil {
			t.Fatal("no reply to a good request after frames without delimiter or body")
		}
		if len(reply) == 2 && len(reply[0]) == 0 {
			env, err := proto.Decode(reply[1])
			if err == nil && env.Service == proto.ServiceUsers {
				if status, _, _ := env.Data.OptString("status"); status == "" {
					break
				}
			}
		}
		t.Logf("reply to a malformed message: %q", reply)
	}
	if err := alive(); err != nil {
		t.Errorf("after malformed messages the broker no longer serves: %v", err)
	}
}

// showPost has poster post text to channel until c shows it live, proving
// that c's subscription reached the proxy.
func showPost(t *testing.T, c *proc, poster *client.Session, user, channel, text string) {
	t.Helper()
	mark := c.mark()
	waitUntil(t, 15*time.Second, fmt.Sprintf("%q shown live by the client", text), func() bool {
		if _, err := poster.Publish(context.Background(), channel, text); err != nil {
			t.Logf("post %q: %v", text, err)
			return false
		}
		_, ok := c.seen(mark, fmt.Sprintf("#%s %s: %s", channel, user, text), 300*time.Millisecond)
		return ok
	})
}

func TestHostilePublicationsStopNoProcess(t *testing.T) {
	s := startReadyStack(t, 2)
	ctx := context.Background()
	bob := session(t, s.frontend)
	if _, err := bob.Login(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.CreateChannel(ctx, "geral"); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, s.frontend, s.xpub)
	c.command("/login ana", "Welcome, ana!", 10*time.Second)
	c.command("/join geral", "What you type now goes to #geral", 10*time.Second)
	showPost(t, c, bob, "bob", "geral", "antes")

	// A rogue publisher on the proxy's publisher side sends whatever it
	// likes on the topics that clients and servers read.
	dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rogue, err := proto.Dial(dialCtx, s.xsub, proto.Pub, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rogue.Close()
	clock := [][]byte{mpStr("clock"), []byte{0x01}}
	post := func(kv ...[]byte) []byte { return mpMap(kv...) }
	payloads := [][]byte{
		[]byte("not MessagePack"),
		{},
		{0xc1},
		mpArray(mpStr("geral")),
		post(append(clock, mpStr("user"), mpStr("eve"), mpStr("channel"), mpStr("geral"), mpStr("message"), mpBin("bin"))...),
		post(append(clock, mpStr("user"), mpStr("eve"), mpStr("channel"), mpStr("geral"), mpStr("message"), mpStr("ol\xe1"))...),
		post(mpStr("user"), mpStr("eve"), mpStr("channel"), mpStr("geral"), mpStr("message"), mpStr("x"), mpStr("clock"), []byte{0xff}),
		post(mpStr("user"), mpStr("eve"), mpStr("channel"), mpStr("geral"), mpStr("message"), mpStr("x"), mpStr("clock"), mpUint(0xcf, math.MaxUint64)),
		post([]byte{0x01}, mpStr("x"), mpStr("message"), mpStr("x")),
		mpNested(200),
		post(append(clock, mpStr("message"), mpStr("no author"))...),
		post(append(clock, mpStr("user"), []byte{0x05}, mpStr("message"), mpStr("author is a number"))...),
		post(mpStr("user"), mpStr("eve"), mpStr("message"), mpStr(strings.Repeat("x", 5<<20))),
		mpRequest(proto.ServiceElection, mpMap(append(clock, mpStr("coordinator"), []byte{0x07})...)),
		mpRequest(proto.ServiceElection, mpMap(append(clock, mpStr("coordinator"), mpBin("server-9"))...)),
		mpMap(mpStr("service"), mpStr(proto.ServiceElection), mpStr("data"), mpStr("x")),
		mpRequest(proto.ServiceElection, mpMap(append(clock, mpStr("coordinator"), mpStr("server-2"), mpStr("epoch"), []byte{0xff}, mpStr("rank"), mpStr("x"))...)),
	}
	for _, topic := range []string{"geral", "ana", proto.ReservedTopic} {
		for _, payload := range payloads {
			if err := rogue.Send([]byte(topic), payload); err != nil {
				t.Fatal(err)
			}
		}
		for _, frames := range [][][]byte{{[]byte(topic)}, {[]byte(topic), []byte("a"), []byte("b")}} {
			if err := rogue.Send(frames...); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A well-formed post whose text would drive a terminal.
	escape := post(append(clock, mpStr("user"), mpStr("eve"), mpStr("channel"), mpStr("geral"), mpStr("message"), mpStr("\x1b[2J\x1b]0;owned\x07red"))...)
	if err := rogue.Send([]byte("geral"), escape); err != nil {
		t.Fatal(err)
	}

	showPost(t, c, bob, "bob", "geral", "depois")
	c.waitAfter(0, "#geral eve: \ufffd[2J\ufffd]0;owned\ufffdred", 5*time.Second)
	if strings.Contains(c.out.String(), "\x1b") {
		t.Error("the client printed an escape character from a publication")
	}
	s.waitAgreement(5*time.Second, "server-2", 2)
	if err := usersAlive(t, s.frontend)(); err != nil {
		t.Errorf("servers no longer serve: %v", err)
	}
}

// dataOf sends one request with c's clocks and returns the reply's data.
func dataOf(t *testing.T, c *reqClient, service string, data any) proto.Data {
	t.Helper()
	frame, err := proto.Encode(service, data, c.clocks.Meta())
	if err != nil {
		t.Fatal(err)
	}
	payload, err := c.req.Request(context.Background(), frame, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", service, err)
	}
	env, err := proto.Decode(payload)
	if err != nil {
		t.Fatalf("%s reply: %v", service, err)
	}
	if _, err := c.clocks.Witness(env.Data); err != nil {
		t.Fatalf("%s reply clock: %v", service, err)
	}
	return env.Data
}

func succeeded(d proto.Data) bool {
	status, _, _ := d.OptString("status")
	return proto.IsSuccess(status)
}

// listed returns the names in a users or channels reply that fold to
// the same key as name.
func listed(d proto.Data, key, name string) []string {
	var same []string
	for _, item := range proto.AsStrings(d[key]) {
		if proto.FoldName(item) == proto.FoldName(name) {
			same = append(same, item)
		}
	}
	return same
}

func TestCaseAndNormalisationVariantsAreOneName(t *testing.T) {
	s := startReadyStack(t, 1)
	c := newClient(s.frontend)
	defer c.req.Close()

	users := []struct{ first, same []string }{
		{[]string{"Ana"}, []string{"ana", "ANA", "aNa"}},
		{[]string{"José"}, []string{"Jose\u0301", "JOSÉ", "JOSE\u0301", "josé"}},
		{[]string{"Straße"}, []string{"STRASSE", "strasse"}},
	}
	for _, u := range users {
		for _, name := range append(u.first, u.same...) {
			if d := dataOf(t, c, proto.ServiceLogin, &proto.LoginRequest{User: name}); !succeeded(d) {
				t.Errorf("login %q: %v", name, d)
			}
		}
		list := dataOf(t, c, proto.ServiceUsers, &proto.EmptyRequest{})
		if same := listed(list, "users", u.first[0]); len(same) != 1 || same[0] != u.first[0] {
			t.Errorf("users list has %q for %q, want it once as first written", same, u.first[0])
		}
	}

	if d := dataOf(t, c, proto.ServiceChannel, &proto.ChannelRequest{Channel: "Canção"}); !succeeded(d) {
		t.Fatalf("channel Canção: %v", d)
	}
	for _, name := range []string{"canção", "CANÇÃO", "Canc\u0327a\u0303o", "#canção", "#CANC\u0327A\u0303O"} {
		d := dataOf(t, c, proto.ServiceChannel, &proto.ChannelRequest{Channel: name})
		if succeeded(d) || replyReason(d) == "" {
			t.Errorf("channel %q created again, or rejected without a reason: %v", name, d)
		}
	}
	list := dataOf(t, c, proto.ServiceChannels, &proto.EmptyRequest{})
	if same := listed(list, "channels", "Canção"); len(same) != 1 || same[0] != "Canção" {
		t.Errorf("channels list has %q, want Canção once", same)
	}
}

func TestInvisibleOrForbiddenNameCharsRejected(t *testing.T) {
	s := startReadyStack(t, 1)
	c := newClient(s.frontend)
	defer c.req.Close()
	bad := []string{
		"", " ", "ana bob", " ana", "ana ", "ana,bob", "ana;bob", "ana/bob", "ana@host", "ana#1",
		"ana\tbob", "ana\nbob", "ana\x00", "\x07ana", "ana\x7f", "ana\u0085",
		"ana\u200b", "\u200bana", "an\u200da", "a\u00adna", "ana\u2060", "\ufeffana", "ana\u202e", "ana\u00a0",
		"ana\U000e0041", "😀ana", strings.Repeat("a", 300), strings.Repeat("a", 33), strings.Repeat("é", 33),
		"servers", "SERVERS", "Servers",
	}
	for _, name := range bad {
		login := dataOf(t, c, proto.ServiceLogin, &proto.LoginRequest{User: name})
		if succeeded(login) || replyReason(login) == "" {
			t.Errorf("login %q: %v, want a rejection with a reason", name, login)
		}
		channel := dataOf(t, c, proto.ServiceChannel, &proto.ChannelRequest{Channel: name})
		if succeeded(channel) || replyReason(channel) == "" {
			t.Errorf("channel %q: %v, want a rejection with a reason", name, channel)
		}
	}
	if users := proto.AsStrings(dataOf(t, c, proto.ServiceUsers, &proto.EmptyRequest{})["users"]); len(users) != 0 {
		t.Errorf("rejected names were registered as users: %q", users)
	}
	if channels := proto.AsStrings(dataOf(t, c, proto.ServiceChannels, &proto.EmptyRequest{})["channels"]); len(channels) != 0 {
		t.Errorf("rejected names were created as channels: %q", channels)
	}

	// The longest names are 32 characters after NFC, however many bytes
	// or decomposed code points they take.
	for _, name := range []string{strings.Repeat("a", 32), strings.Repeat("é", 32), strings.Repeat("e\u0301", 32), strings.Repeat("日", 32)} {
		if d := dataOf(t, c, proto.ServiceLogin, &proto.LoginRequest{User: name}); !succeeded(d) {
			t.Errorf("login of a %d-character name rejected: %v", utf8.RuneCountInString(name), d)
		}
	}
}

// subscribed returns a Subscriber to topics that runs until the test ends.
func subscribed(t *testing.T, xpub string, topics ...string) *proto.Subscriber {
	t.Helper()
	sub := proto.NewSubscriber(xpub, nil)
	for _, topic := range topics {
		sub.Subscribe(topic)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sub.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-sub.Connected():
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber did not connect")
	}
	return sub
}

// deliveredUntil calls send until sub delivers a publication on topic
// whose data satisfies match, and returns that data. It fails the test
// when a publication does not decode or none matches within 15s.
func deliveredUntil(t *testing.T, sub *proto.Subscriber, topic string, send func(), match func(proto.Data) bool) proto.Data {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		send()
		timeout := time.After(300 * time.Millisecond)
	read:
		for {
			select {
			case d := <-sub.Deliveries():
				data, err := proto.DecodeData(d.Payload)
				if err != nil {
					t.Fatalf("publication on %q does not decode: %v", d.Topic, err)
				}
				if d.Topic == topic && match(data) {
					return data
				}
			case <-timeout:
				break read
			}
		}
	}
	t.Fatalf("no matching publication on topic %q", topic)
	return nil
}

func TestUnusualNamesWorkEverywhere(t *testing.T) {
	s := startReadyStack(t, 2)
	c := newClient(s.frontend)
	defer c.req.Close()
	const (
		jose    = "José"       // registered in NFD, shown in NFC
		naive   = "naïve_ü.2"  // letters with diacritics, digit, _ and .
		channel = "Canção.d-1" // as shown; created with a '#' and in NFD
	)
	for _, name := range []string{"Jose\u0301", naive, "Ωmega-7", "日本語"} {
		if d := dataOf(t, c, proto.ServiceLogin, &proto.LoginRequest{User: name}); !succeeded(d) {
			t.Fatalf("login %q: %v", name, d)
		}
	}
	if d := dataOf(t, c, proto.ServiceChannel, &proto.ChannelRequest{Channel: "#Canc\u0327a\u0303o.d-1"}); !succeeded(d) {
		t.Fatalf("channel: %v", d)
	}
	users := proto.AsStrings(dataOf(t, c, proto.ServiceUsers, &proto.EmptyRequest{})["users"])
	if strings.Join(users, ",") != "José,naïve_ü.2,Ωmega-7,日本語" {
		t.Errorf("users %q", users)
	}
	if channels := proto.AsStrings(dataOf(t, c, proto.ServiceChannels, &proto.EmptyRequest{})["channels"]); len(channels) != 1 || channels[0] != channel {
		t.Errorf("channels %q, want [%s]", channels, channel)
	}

	// Publications go out on the names as shown, which subscribers match
	// exactly.
	sub := subscribed(t, s.xpub, channel, jose)
	post := deliveredUntil(t, sub, channel, func() {
		d := dataOf(t, c, proto.ServicePublish, &proto.PublishRequest{User: "JOSE\u0301", Channel: "CANÇÃO.D-1", Message: "olá, açúcar"})
		if !succeeded(d) {
			t.Fatalf("post: %v", d)
		}
	}, func(d proto.Data) bool { return d["message"] == "olá, açúcar" })
	if post["user"] != jose || post["channel"] != channel {
		t.Errorf("post published as %v", post)
	}
	direct := deliveredUntil(t, sub, jose, func() {
		d := dataOf(t, c, proto.ServiceMessage, &proto.DirectRequest{Src: "NAÏVE_Ü.2", Dst: "josé", Message: "oi, José"})
		if !succeeded(d) {
			t.Fatalf("direct message: %v", d)
		}
	}, func(d proto.Data) bool { return d["message"] == "oi, José" })
	if direct["src"] != naive || direct["from"] != naive || direct["dst"] != jose {
		t.Errorf("direct message published as %v", direct)
	}

	history := dataOf(t, c, proto.ServiceHistory, &proto.HistoryRequest{Channel: "canc\u0327a\u0303o.D-1"})
	messages, _ := history["messages"].([]any)
	if len(messages) == 0 {
		t.Fatalf("channel history: %v", history)
	}
	if first, _ := messages[0].(map[string]any); first["user"] != jose || first["channel"] != channel {
		t.Errorf("history entry %v", first)
	}
	conversation := dataOf(t, c, proto.ServiceHistory, &proto.HistoryRequest{User: "JOSÉ", Peer: "naïve_Ü.2"})
	if messages, _ := conversation["messages"].([]any); len(messages) == 0 {
		t.Errorf("conversation history: %v", conversation)
	}

	// msgsys's own client joins by any spelling and shows the post.
	cl := startClient(t, s.frontend, s.xpub)
	cl.command("/login "+naive, "Welcome, "+naive+"!", 10*time.Second)
	out := cl.command("/join #CANÇÃO.D-1", "What you type now goes to #"+channel, 10*time.Second)
	if !strings.Contains(out, "#"+channel+" "+jose+": olá, açúcar") {
		t.Errorf("joining showed no history post:\n%s", out)
	}
	// The confirmation names the recipient as registered.
	cl.command("/msg JOSÉ tudo bem?", "Message sent to @"+jose+".", 10*time.Second)
	cl.command("/history @josé", "tudo bem?", 10*time.Second)
}

func TestLongTextLimitedNeverCut(t *testing.T) {
	s := startReadyStack(t, 1)
	c := newClient(s.frontend)
	defer c.req.Close()
	for _, req := range []any{&proto.LoginRequest{User: "ana"}, &proto.ChannelRequest{Channel: "geral"}} {
		service := proto.ServiceLogin
		if _, ok := req.(*proto.ChannelRequest); ok {
			service = proto.ServiceChannel
		}
		if d := dataOf(t, c, service, req); !succeeded(d) {
			t.Fatalf("%s: %v", service, d)
		}
	}

	longest := strings.Repeat("é", proto.MaxTextBytes/2) // 8192 bytes, 4096 characters
	tooLong := []string{
		longest + "a",
		strings.Repeat("a", proto.MaxTextBytes-1) + "é", // the 8193rd byte is inside "é"
		strings.Repeat("😀", proto.MaxTextBytes/4) + "a",
	}
	if d := dataOf(t, c, proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: longest}); !succeeded(d) {
		t.Fatalf("post of %d bytes: %v", len(longest), d)
	}
	if d := dataOf(t, c, proto.ServiceMessage, &proto.DirectRequest{Src: "ana", Dst: "ana", Message: longest}); !succeeded(d) {
		t.Fatalf("direct message of %d bytes: %v", len(longest), d)
	}
	for _, text := range tooLong {
		post := dataOf(t, c, proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: text})
		direct := dataOf(t, c, proto.ServiceMessage, &proto.DirectRequest{Src: "ana", Dst: "ana", Message: text})
		for _, d := range []proto.Data{post, direct} {
			if succeeded(d) || replyReason(d) == "" {
				t.Errorf("text of %d bytes: %v, want a rejection with a reason", len(text), d)
			}
		}
	}

	// History holds the longest text whole, and nothing of the rejected.
	for _, req := range []*proto.HistoryRequest{{Channel: "geral"}, {User: "ana", Peer: "ana"}} {
		messages, _ := dataOf(t, c, proto.ServiceHistory, req)["messages"].([]any)
		if len(messages) != 1 {
			t.Fatalf("history %+v holds %d messages, want 1", req, len(messages))
		}
		m, _ := messages[0].(map[string]any)
		if text, _ := m["message"].(string); text != longest {
			t.Errorf("history %+v holds a text of %d bytes, valid UTF-8 %v; want the %d bytes sent", req, len(text), utf8.ValidString(text), len(longest))
		}
	}

	// msgsys's client refuses a text over the limit before sending it.
	cl := startClient(t, s.frontend, s.xpub)
	cl.command("/login ana", "Welcome, ana!", 10*time.Second)
	cl.command("/post geral "+tooLong[1], "nothing was sent", 10*time.Second)
}

// brokerArgs are the arguments startStack runs the broker with.
func (s *stack) brokerArgs() []string {
	return []string{"broker", "--frontend", s.frontend, "--backend", s.backend, "--xsub", s.xsub, "--xpub", s.xpub, "--request-timeout", "2s"}
}

// origin returns a server's origin id, which is new each time the server
// process starts.
func (s *stack) origin(name string) string {
	s.t.Helper()
	data, err := serverStatus(s.serverAddr[name], 2*time.Second)
	if err != nil {
		s.t.Fatalf("status of %s: %v", name, err)
	}
	replica, _ := data["replica"].(map[string]any)
	origin, _ := replica["origin"].(string)
	if origin == "" {
		s.t.Fatalf("status of %s has no origin: %v", name, data)
	}
	return origin
}

// pid returns the process id of a running process of the stack.
func (s *stack) pid(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := s.procs[name]
	if cmd == nil {
		s.t.Fatalf("%s is not running", name)
	}
	return cmd.Process.Pid
}

func TestBrokerRestartRecoversClientsAndServers(t *testing.T) {
	s := startReadyStack(t, 2)
	ctx := context.Background()
	bob := session(t, s.frontend)
	if _, err := bob.Login(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.CreateChannel(ctx, "geral"); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, s.frontend, s.xpub)
	c.command("/login ana", "Welcome, ana!", 10*time.Second)
	c.command("/join geral", "What you type now goes to #geral", 10*time.Second)
	showPost(t, c, bob, "bob", "geral", "antes")
	origins := map[string]string{"server-1": s.origin("server-1"), "server-2": s.origin("server-2")}

	s.kill("broker")
	// With the broker gone, a command fails in bounded time instead of
	// hanging.
	start := time.Now()
	c.command("/users", "unavailable", 10*time.Second)
	t.Logf("command with the broker down failed after %v", time.Since(start))

	down := time.Now()
	s.spawn("broker", s.brokerArgs()...)
	waitUntil(t, 15*time.Second, "bob's requests through the restarted broker", func() bool {
		_, err := bob.Users(ctx)
		return err == nil
	})
	t.Logf("requests served %v after the broker restarted", time.Since(down))
	mark := c.mark()
	waitUntil(t, 15*time.Second, "the client's requests through the restarted broker", func() bool {
		_, ok := c.seen(mark, "Users (2): ana, bob", 0)
		if !ok {
			c.send("/users")
			_, ok = c.seen(mark, "Users (2): ana, bob", 2*time.Second)
		}
		return ok
	})
	// The restarted proxy gets the client's subscription and the servers'
	// publications back.
	showPost(t, c, bob, "bob", "geral", "depois")
	c.waitAfter(0, "(live messages reconnected)", 5*time.Second)
	for name, origin := range origins {
		if now := s.origin(name); now != origin {
			t.Errorf("%s restarted: origin %s, was %s", name, now, origin)
		}
	}
	s.waitAgreement(5*time.Second, "server-2", 2)
}

// startSplitStack is startStack with the request broker and the pub/sub
// proxy in two processes, "broker" and "proxy", as the standard deploys
// them.
func startSplitStack(t *testing.T, servers int) *stack {
	t.Helper()
	ports := freePorts(t, 5+servers)
	s := &stack{
		t: t, dir: t.TempDir(),
		frontend: endpoint(ports[0]), backend: endpoint(ports[1]), xsub: endpoint(ports[2]), xpub: endpoint(ports[3]), refEnd: endpoint(ports[4]),
		procs: map[string]*exec.Cmd{}, serverAddr: map[string]string{}, logs: map[string]*strings.Builder{},
	}
	t.Cleanup(s.stopAll)
	s.spawn("reference", "reference", "--bind", s.refEnd, "--data", filepath.Join(s.dir, "reference"), "--heartbeat-expiry", "3s")
	s.spawn("broker", "broker", "--frontend", s.frontend, "--backend", s.backend, "--xsub=", "--xpub=", "--request-timeout", "2s")
	s.spawn("proxy", s.proxyArgs()...)
	for i := 1; i <= servers; i++ {
		name := fmt.Sprintf("server-%d", i)
		s.serverAddr[name] = endpoint(ports[4+i])
		s.startServer(name, i)
	}
	s.waitAgreement(10*time.Second, fmt.Sprintf("server-%d", servers), servers)
	waitAnswered(t, s.frontend)
	return s
}

func (s *stack) proxyArgs() []string {
	return []string{"broker", "--frontend=", "--backend=", "--xsub", s.xsub, "--xpub", s.xpub}
}

func TestProxyRestartRestoresSubscriptions(t *testing.T) {
	s := startSplitStack(t, 2)
	ctx := context.Background()
	bob := session(t, s.frontend)
	if _, err := bob.Login(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.CreateChannel(ctx, "geral"); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, s.frontend, s.xpub)
	c.command("/login ana", "Welcome, ana!", 10*time.Second)
	c.command("/join geral", "What you type now goes to #geral", 10*time.Second)
	showPost(t, c, bob, "bob", "geral", "antes")
	sub := subscribed(t, s.xpub, "geral")
	n := 0
	post := func() {
		n++
		if _, err := bob.Publish(ctx, "geral", fmt.Sprintf("sub %d", n)); err != nil {
			t.Logf("post: %v", err)
		}
	}
	any := func(proto.Data) bool { return true }
	deliveredUntil(t, sub, "geral", post, any)

	s.kill("proxy")
	s.spawn("proxy", s.proxyArgs()...)
	restarted := time.Now()
	deliveredUntil(t, sub, "geral", post, any)
	t.Logf("a SUB received again %v after the proxy restarted", time.Since(restarted))
	showPost(t, c, bob, "bob", "geral", "depois")
	if err := usersAlive(t, s.frontend)(); err != nil {
		t.Errorf("requests fail after the proxy restarted: %v", err)
	}
}

// referenceList sends the reference a list request and returns each
// available server's rank.
func referenceList(refEnd string) (map[string]int64, error) {
	r := proto.NewRequester(refEnd)
	defer r.Close()
	frame, err := proto.Encode(proto.ServiceList, &proto.EmptyRequest{}, proto.NewClocks().Meta())
	if err != nil {
		return nil, err
	}
	payload, err := r.Request(context.Background(), frame, time.Second)
	if err != nil {
		return nil, err
	}
	env, err := proto.Decode(payload)
	if err != nil {
		return nil, err
	}
	ranks := map[string]int64{}
	list, _ := env.Data["list"].([]any)
	for _, item := range list {
		entry, _ := item.(map[string]any)
		info := proto.Data(entry)
		name, _, _ := info.OptString("name")
		rank, _, _ := info.OptInt("rank")
		ranks[name] = rank
	}
	return ranks, nil
}

// rankedStack starts a reference, a broker and the servers alpha and
// beta without --rank, so that the reference hands out ranks 1 and 2 in
// the order they register. It returns the reference's arguments.
func rankedStack(t *testing.T) (*stack, []string) {
	t.Helper()
	ports := freePorts(t, 7)
	s := &stack{
		t: t, dir: t.TempDir(),
		frontend: endpoint(ports[0]), backend: endpoint(ports[1]), xsub: endpoint(ports[2]), xpub: endpoint(ports[3]), refEnd: endpoint(ports[4]),
		procs: map[string]*exec.Cmd{}, serverAddr: map[string]string{"alpha": endpoint(ports[5]), "beta": endpoint(ports[6])}, logs: map[string]*strings.Builder{},
	}
	t.Cleanup(s.stopAll)
	refArgs := []string{"reference", "--bind", s.refEnd, "--data", filepath.Join(s.dir, "reference"), "--heartbeat-expiry", "3s"}
	s.spawn("reference", refArgs...)
	s.spawn("broker", s.brokerArgs()...)
	for i, name := range []string{"alpha", "beta"} {
		s.spawn(name, "server", "--name", name, "--addr", s.serverAddr[name], "--data", filepath.Join(s.dir, name),
			"--broker", s.backend, "--pub", s.xsub, "--sub", s.xpub, "--reference", s.refEnd,
			"--check-every", "50ms", "--check-timeout", "100ms", "--election-timeout", "100ms", "--ack-timeout", "300ms")
		waitUntil(t, 10*time.Second, name+" registered", func() bool {
			ranks, err := referenceList(s.refEnd)
			return err == nil && len(ranks) == i+1
		})
	}
	ranks, err := referenceList(s.refEnd)
	if err != nil || ranks["alpha"] != 1 || ranks["beta"] != 2 {
		t.Fatalf("ranks %v, %v; want alpha 1 and beta 2", ranks, err)
	}
	s.waitAgreement(10*time.Second, "beta", 2)
	waitAnswered(t, s.frontend)
	return s, refArgs
}

// checkRanks waits until the reference lists alpha and beta again, and
// checks that it lists them, and that they run, with ranks 1 and 2.
func checkRanks(t *testing.T, s *stack, when string) {
	t.Helper()
	waitUntil(t, 10*time.Second, "both servers listed "+when, func() bool {
		ranks, err := referenceList(s.refEnd)
		return err == nil && len(ranks) == 2
	})
	ranks, _ := referenceList(s.refEnd)
	for name, rank := range map[string]int64{"alpha": 1, "beta": 2} {
		if ranks[name] != rank {
			t.Errorf("%s: the reference lists %s with rank %d, want %d", when, name, ranks[name], rank)
		}
		if data, err := serverStatus(s.serverAddr[name], time.Second); err != nil {
			t.Errorf("%s: status of %s: %v", when, name, err)
		} else if got, _, _ := data.OptInt("rank"); got != rank {
			t.Errorf("%s: %s runs with rank %d, want %d", when, name, got, rank)
		}
	}
	s.waitAgreement(10*time.Second, "beta", 2)
	if err := usersAlive(t, s.frontend)(); err != nil {
		t.Errorf("%s: requests fail: %v", when, err)
	}
}

func TestReferenceRestartKeepsRanks(t *testing.T) {
	s, refArgs := rankedStack(t)
	s.kill("reference")
	// Clients do not need the reference.
	if err := usersAlive(t, s.frontend)(); err != nil {
		t.Errorf("requests fail while the reference is down: %v", err)
	}
	s.spawn("reference", refArgs...)
	checkRanks(t, s, "after a restart")
}

func TestReferenceDataLossKeepsRanks(t *testing.T) {
	s, refArgs := rankedStack(t)
	// alpha is frozen while the reference comes back without its file, so
	// beta reaches it first and would get rank 1 if ranks went by arrival.
	s.kill("reference")
	if err := os.RemoveAll(filepath.Join(s.dir, "reference")); err != nil {
		t.Fatal(err)
	}
	s.signal("alpha", syscall.SIGSTOP)
	s.spawn("reference", refArgs...)
	waitUntil(t, 10*time.Second, "beta registered with the new reference", func() bool {
		ranks, err := referenceList(s.refEnd)
		return err == nil && ranks["beta"] != 0
	})
	s.signal("alpha", syscall.SIGCONT)
	checkRanks(t, s, "after a restart without its data")
}

// historyTexts reads a channel's history through c and returns how often
// each text appears.
func historyTexts(t *testing.T, c *reqClient, channel string) (map[string]int, error) {
	t.Helper()
	d := dataOf(t, c, proto.ServiceHistory, &proto.HistoryRequest{Channel: channel, Limit: proto.HistoryMaxLimit})
	if !succeeded(d) {
		return nil, fmt.Errorf("history: %v", d)
	}
	texts := map[string]int{}
	messages, _ := d["messages"].([]any)
	for _, item := range messages {
		m, _ := item.(map[string]any)
		text, _ := m["message"].(string)
		texts[text]++
	}
	return texts, nil
}

func TestPausedServerTimelyErrorAndCatchUp(t *testing.T) {
	s := startReadyStack(t, 3)
	c := newClient(s.frontend)
	defer c.req.Close()
	if ok, err := c.call(proto.ServiceLogin, &proto.LoginRequest{User: "ana"}); !ok {
		t.Fatalf("login: %v", err)
	}
	if ok, err := c.call(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"}); !ok {
		t.Fatalf("channel: %v", err)
	}

	// server-1 freezes: its connections stay open and nothing replies.
	s.signal("server-1", syscall.SIGSTOP)
	var texts []string
	errorsSeen := 0
	var slowest time.Duration
	for i := range 60 {
		text := fmt.Sprintf("p-%d", i)
		texts = append(texts, text)
		// A retry repeats the frame, and so the request id: the write must
		// be applied once although the frozen server may hold the first
		// attempt.
		frame, err := proto.Encode(proto.ServicePublish, &publishWithID{User: "ana", Channel: "geral", Message: text, ID: "paused-" + text}, c.clocks.Meta())
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for attempt := 1; attempt <= 3 && !ok; attempt++ {
			start := time.Now()
			ok, err = c.send(frame)
			took := time.Since(start)
			slowest = max(slowest, took)
			if !ok {
				errorsSeen++
				t.Logf("%s attempt %d failed after %v: %v", text, attempt, took, err)
			}
		}
		if !ok {
			t.Fatalf("%s failed three times", text)
		}
	}
	t.Logf("%d failed attempts, slowest reply %v", errorsSeen, slowest)
	// The broker sends a request that the frozen server holds to another
	// server after --hedge-after (1 s), so the slowest reply takes about
	// that long and no attempt fails.
	if slowest < broker.DefaultHedgeAfter {
		t.Error("no request reached the frozen server, so the test showed nothing")
	}
	if errorsSeen > 0 {
		t.Errorf("%d attempts failed with a server frozen, want each answered by another server", errorsSeen)
	}
	if slowest > 3*time.Second {
		t.Errorf("a reply took %v with a server frozen; the broker hedges after 1s", slowest)
	}

	// Once resumed, server-1 must catch up before it serves: every history
	// read, whichever server serves it, returns every post once.
	s.signal("server-1", syscall.SIGCONT)
	resumed := time.Now()
	stale := 0
	for reads := 0; time.Since(resumed) < 1500*time.Millisecond; reads++ {
		got, err := historyTexts(t, c, "geral")
		if err != nil {
			t.Logf("read %d: %v", reads, err)
			continue
		}
		for _, text := range texts {
			if got[text] != 1 {
				if stale == 0 {
					t.Errorf("read %d, %v after the server resumed, holds %q %d times", reads, time.Since(resumed), text, got[text])
				}
				stale++
				break
			}
		}
	}
	if stale > 0 {
		t.Errorf("%d reads after the server resumed missed posts", stale)
	}
	// The resumed server's store holds every post once: the first attempt
	// it took while frozen and the retry another server took are one write.
	waitUntil(t, 10*time.Second, "server-1 holding every post once", func() bool {
		stored := postTexts(t, filepath.Join(s.dir, "server-1"))
		for _, text := range texts {
			if stored[text] != 1 {
				return false
			}
		}
		return true
	})
}

// memoryKB reads a field such as VmRSS or VmHWM, in kB, from
// /proc/PID/status.
func memoryKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("skipping the memory check: %v", err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if value, ok := strings.CutPrefix(scanner.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s of %d: %v", field, pid, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// latencies collects request durations from several goroutines.
type latencies struct {
	mu     sync.Mutex
	all    []time.Duration
	failed []string
}

func (l *latencies) add(d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, d)
	if err != nil {
		l.failed = append(l.failed, err.Error())
	}
}

// summary returns the count, the median and the maximum.
func (l *latencies) summary() (int, time.Duration, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) == 0 {
		return 0, 0, 0
	}
	sorted := append([]time.Duration(nil), l.all...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return len(sorted), sorted[len(sorted)/2], sorted[len(sorted)-1]
}

func TestFloodRateLimitedOthersServed(t *testing.T) {
	// One server takes the whole flood, with a limit low enough for the
	// flooder to reach in a second.
	s := startStackWith(t, 1, "--lang", "en", "--rate-limit", "20")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	setup := session(t, s.frontend)
	for _, user := range []string{"flood", "calma"} {
		if _, err := setup.Login(ctx, user); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := setup.CreateChannel(ctx, "geral"); err != nil {
		t.Fatal(err)
	}

	// The flooder posts from several connections at once, as fast as the
	// replies come back.
	var accepted, limited, other atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(s.frontend)
			defer c.req.Close()
			for i := 0; ctx.Err() == nil; i++ {
				frame, err := proto.Encode(proto.ServicePublish, &proto.PublishRequest{User: "flood", Channel: "geral", Message: fmt.Sprintf("flood %d-%d", w, i)}, c.clocks.Meta())
				if err != nil {
					t.Error(err)
					return
				}
				payload, err := c.req.Request(ctx, frame, 5*time.Second)
				if err != nil {
					other.Add(1)
					continue
				}
				env, err := proto.Decode(payload)
				switch {
				case err != nil:
					other.Add(1)
				case succeeded(env.Data):
					accepted.Add(1)
				case strings.Contains(replyReason(env.Data), "too many messages"):
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}

	// Meanwhile another user reads and posts at a person's pace.
	var calm latencies
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := session(t, s.frontend)
		if _, err := c.Login(ctx, "calma"); err != nil && ctx.Err() == nil {
			t.Error(err)
			return
		}
		for i := 0; ctx.Err() == nil; i++ {
			start := time.Now()
			_, err := c.Users(ctx)
			if ctx.Err() == nil {
				calm.add(time.Since(start), err)
			}
			// Ten posts a second, under the limit of twenty.
			if i%5 == 0 {
				start = time.Now()
				_, err = c.Publish(ctx, "geral", fmt.Sprintf("calma %d", i))
				if ctx.Err() == nil {
					calm.add(time.Since(start), err)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond): // a person's pace, not synchronisation
			}
		}
	}()

	pids := map[string]int{}
	for _, name := range []string{"broker", "server-1"} {
		pids[name] = s.pid(name)
	}
	time.Sleep(time.Second) // lets the flood run; synchronises nothing
	early := map[string]int64{}
	for name, pid := range pids {
		early[name] = memoryKB(t, pid, "VmRSS")
	}
	time.Sleep(2 * time.Second) // lets the flood run three times as long
	for name, pid := range pids {
		late := memoryKB(t, pid, "VmRSS")
		t.Logf("%s VmRSS %d kB after 1s of flood, %d kB after 3s", name, early[name], late)
		if late-early[name] > 64<<10 {
			t.Errorf("%s grew %d kB while the flood went on", name, late-early[name])
		}
	}
	stop()
	wg.Wait()

	n, median, slowest := calm.summary()
	t.Logf("flooder: %d accepted, %d rate-limited, %d other; calm user: %d requests, median %v, slowest %v",
		accepted.Load(), limited.Load(), other.Load(), n, median, slowest)
	if limited.Load() == 0 {
		t.Error("the flooder never got a rate-limit error")
	}
	if len(calm.failed) > 0 {
		t.Errorf("%d of the calm user's requests failed, first: %s", len(calm.failed), calm.failed[0])
	}
	if n < 20 || median > 200*time.Millisecond || slowest > 2*time.Second {
		t.Errorf("the calm user was starved: %d requests, median %v, slowest %v", n, median, slowest)
	}
}

func TestStuckSubscriberStallsNoOne(t *testing.T) {
	ports := freePorts(t, 2)
	xsub, xpub := endpoint(ports[0]), endpoint(ports[1])
	const queue = 1000
	proxy := startProc(t, "proxy", nil, "broker", "--frontend=", "--backend=", "--xsub", xsub, "--xpub", xpub,
		"--subscriber-queue", fmt.Sprint(queue))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The stuck subscriber subscribes and then never reads: once the
	// kernel's buffers are full, the proxy cannot write to it.
	var stuck *proto.Conn
	waitUntil(t, 10*time.Second, "the proxy's subscriber side", func() bool {
		conn, err := proto.Dial(ctx, xpub, proto.Sub, time.Second)
		stuck = conn
		return err == nil
	})
	defer stuck.Close()
	if err := stuck.Send(append([]byte{1}, "flood"...)); err != nil {
		t.Fatal(err)
	}
	healthy := subscribed(t, xpub, "flood")
	pub, err := proto.Dial(ctx, xsub, proto.Pub, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	payload := bytes.Repeat([]byte("x"), 2048)
	var received int
	drain := func(until int, timeout time.Duration) {
		t.Helper()
		deadline := time.After(timeout)
		for received < until {
			select {
			case <-healthy.Deliveries():
				received++
			case <-deadline:
				t.Fatalf("the healthy subscriber got %d of %d publications in %v: the stuck one stalls it", received, until, timeout)
			}
		}
	}
	// Both subscriptions are in place once the healthy one receives.
	waitUntil(t, 10*time.Second, "the healthy subscriber receiving", func() bool {
		if err := pub.Send([]byte("flood"), []byte("warm-up")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-healthy.Deliveries():
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})

	pid := proxy.cmd.Process.Pid
	before := memoryKB(t, pid, "VmRSS")
	// 40000 publications of 2 kB, 80 MB in all, in bursts the healthy
	// subscriber can take: it must get every one, however long the stuck
	// one's queue grows.
	const bursts, burst = 40, 1000
	start := time.Now()
	for b := range bursts {
		for i := range burst {
			if err := pub.Send([]byte("flood"), payload); err != nil {
				t.Fatalf("publication %d: %v", b*burst+i, err)
			}
		}
		drain((b+1)*burst, 10*time.Second)
	}
	peak := memoryKB(t, pid, "VmHWM")
	t.Logf("%d publications delivered in %v; proxy VmRSS %d kB before, peak %d kB", received, time.Since(start), before, peak)
	// The stuck subscriber's queue holds at most queue publications.
	if grew := peak - before; grew > 48<<10 {
		t.Errorf("the proxy grew %d kB for a subscriber that does not read; its queue holds %d publications of 2 kB", grew, queue)
	}
}

func TestSlowJoinerNoGapNoDuplicate(t *testing.T) {
	s := startReadyStack(t, 2)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	poster := session(t, s.frontend)
	if _, err := poster.Login(ctx, "poster"); err != nil {
		t.Fatal(err)
	}
	if _, err := poster.CreateChannel(ctx, "geral"); err != nil {
		t.Fatal(err)
	}

	// Posts flow before, during and after the join, one at a time, each
	// numbered.
	var acked atomic.Int64
	posting := make(chan struct{})
	go func() {
		defer close(posting)
		for i := 1; ctx.Err() == nil; i++ {
			if _, err := poster.Publish(ctx, "geral", fmt.Sprintf("seq-%05d", i)); err != nil {
				if ctx.Err() == nil {
					t.Errorf("post %d: %v", i, err)
				}
				return
			}
			acked.Store(int64(i))
		}
	}()
	waitUntil(t, 10*time.Second, "posts before the join", func() bool { return acked.Load() >= 30 })

	c := startClient(t, s.frontend, s.xpub)
	c.command("/login joiner", "Welcome, joiner!", 10*time.Second)
	c.command("/join geral", "What you type now goes to #geral", 10*time.Second)
	joined := acked.Load()
	waitUntil(t, 10*time.Second, "posts after the join", func() bool { return acked.Load() >= joined+100 })
	stop()
	<-posting
	last := acked.Load()
	c.waitAfter(0, fmt.Sprintf("#geral poster: seq-%05d", last), 10*time.Second)

	seq := regexp.MustCompile(`#geral poster: seq-(\d+)`)
	seen := map[int]int{}
	first, highest := 0, 0
	for _, m := range seq.FindAllStringSubmatch(c.out.String(), -1) {
		n, _ := strconv.Atoi(m[1])
		seen[n]++
		if first == 0 {
			first = n
		}
		highest = max(highest, n)
	}
	t.Logf("the client showed posts %d to %d; the join came after post %d", first, highest, joined)
	if first > int(joined) {
		t.Errorf("the history shown on joining starts at post %d, after the %d posted before the join", first, joined)
	}
	for n := first; n <= highest; n++ {
		if seen[n] != 1 {
			t.Errorf("post %d shown %d times", n, seen[n])
		}
	}
}
