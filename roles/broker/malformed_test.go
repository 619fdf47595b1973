package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/proto"
)

type syncBuffer = testkit.Buffer

// sendRaw writes bytes that are not ZMTP to endpoint and hangs up.
func sendRaw(t *testing.T, endpoint string, data []byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(endpoint, "tcp://"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write(data); err != nil {
		t.Fatal(err)
	}
}

func TestMalformedInputSurvived(t *testing.T) {
	b := startBroker(t, testConfig(t))
	for _, endpoint := range []string{b.FrontendEndpoint(), b.BackendEndpoint(), b.XSubEndpoint(), b.XPubEndpoint()} {
		sendRaw(t, endpoint, []byte("GET / HTTP/1.0\r\n\r\n"))
		sendRaw(t, endpoint, bytes.Repeat([]byte{0xff}, 64))
	}

	// A server sends replies with no identity, no delimiter, no body or
	// an identity of no client, then disconnects.
	badServer := dial(t, b.BackendEndpoint(), proto.Dealer)
	for _, msg := range [][][]byte{
		{[]byte("x")},
		{[]byte("id"), []byte("no delimiter")},
		{[]byte("id"), {}},
		{[]byte("\x00\xff\xff\xff\xff"), {}, []byte("reply for nobody")},
	} {
		if err := badServer.Send(msg...); err != nil {
			t.Fatal(err)
		}
	}
	startServer(t, b, proto.Dealer, echo)
	waitServers(t, b, 2)
	badServer.Close()
	waitServers(t, b, 1)

	// A client sends messages with no delimiter or no body on the same
	// connection as a good request, which must still get its reply.
	client := dial(t, b.FrontendEndpoint(), proto.Dealer)
	replies := receive(t, client)
	for _, msg := range [][][]byte{
		{[]byte("no delimiter")},
		{{}},
		{[]byte("envelope"), {}},
	} {
		if err := client.Send(msg...); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Send([]byte{}, []byte("good")); err != nil {
		t.Fatal(err)
	}
	if msg := replies.next(t, 5*time.Second); len(msg) != 2 || string(msg[1]) != "good" {
		t.Fatalf("reply %q, want the echo of the good request", msg)
	}

	// Publishers and subscribers send odd messages too.
	pub := dial(t, b.XSubEndpoint(), proto.Pub)
	sub := dial(t, b.XPubEndpoint(), proto.Sub)
	for _, msg := range [][][]byte{{{}}, {{}, {}, {}}, {{7, 'x'}}, {{1}, {'y'}}} {
		if err := sub.Send(msg...); err != nil {
			t.Fatal(err)
		}
	}
	subscribe(t, sub, true, "ok")
	deliveries := receive(t, sub)
	waitSubscriptions(t, b, 1)
	for _, msg := range [][][]byte{{{}}, {[]byte("ok")}, {[]byte("ok"), {}, []byte("three frames")}} {
		if err := pub.Send(msg...); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, pub, "ok", []byte("fine"))
	var last [][]byte
	for len(last) != 2 || string(last[1]) != "fine" {
		last = deliveries.next(t, 5*time.Second)
	}

	r := proto.NewRequester(b.FrontendEndpoint())
	defer r.Close()
	if reply, err := r.Request(context.Background(), []byte("still alive"), 5*time.Second); err != nil || string(reply) != "still alive" {
		t.Fatalf("after malformed input: reply %q, err %v", reply, err)
	}
}

// TestRequestWithoutDelimiterLogged sends a request too large to forward
// and, within the same second, one without the empty delimiter. Each kind
// of bad request has its own rate limit, so the second is logged too.
func TestRequestWithoutDelimiterLogged(t *testing.T) {
	logs := &syncBuffer{}
	cfg := testConfig(t)
	cfg.Log = slog.New(slog.NewTextHandler(logs, nil))
	b := startBroker(t, cfg)
	startServer(t, b, proto.Dealer, echo)
	waitServers(t, b, 1)
	client := dial(t, b.FrontendEndpoint(), proto.Dealer)
	replies := receive(t, client)

	if err := client.Send([]byte{}, make([]byte, MaxRequestBytes+1)); err != nil {
		t.Fatal(err)
	}
	if msg := replies.next(t, 5*time.Second); len(msg) != 2 {
		t.Fatalf("reply to a request too large: %q, want a delimiter and an error", msg)
	}
	if err := client.Send(encodeRequest(t, "users", 1)); err != nil {
		t.Fatal(err)
	}
	// The broker reads one connection's messages in order, so the reply to
	// this request shows that it has handled the one before.
	if err := client.Send([]byte{}, encodeRequest(t, "users", 2)); err != nil {
		t.Fatal(err)
	}
	if msg := replies.next(t, 5*time.Second); len(msg) != 2 {
		t.Fatalf("reply to a good request: %q, want a delimiter and the echo", msg)
	}

	out := logs.String()
	if !strings.Contains(out, `msg="malformed request dropped"`) || !strings.Contains(out, `reason="no empty delimiter frame"`) {
		t.Errorf("no log line for the request without a delimiter; log:\n%s", out)
	}
	if !strings.Contains(out, `reason="too large"`) {
		t.Errorf("no log line for the request too large; log:\n%s", out)
	}
}

// TestRequestAboveTransportLimitRejected sends a request above the 64 MiB
// that a connection reads. The client gets the error reply for a request
// too large, the broker logs it, and the connection keeps working.
func TestRequestAboveTransportLimitRejected(t *testing.T) {
	logs := &syncBuffer{}
	cfg := testConfig(t)
	cfg.Log = slog.New(slog.NewTextHandler(logs, nil))
	b := startBroker(t, cfg)
	startServer(t, b, proto.Dealer, echo)
	waitServers(t, b, 1)
	client := dial(t, b.FrontendEndpoint(), proto.Req)
	replies := receive(t, client)

	if err := client.Send([]byte{}, make([]byte, proto.MaxMessageBytes+1)); err != nil {
		t.Fatal(err)
	}
	msg := replies.next(t, 20*time.Second)
	if len(msg) != 2 || len(msg[0]) != 0 {
		t.Fatalf("reply to a request above the transport limit: %d frames, want a delimiter and an error", len(msg))
	}
	if _, text, _ := decodeError(t, msg[1]); text != failureTexts[failTooLarge].EN {
		t.Errorf("description %q, want %q", text, failureTexts[failTooLarge].EN)
	}
	if !strings.Contains(logs.String(), `reason="too large"`) {
		t.Errorf("no log line for the request above the transport limit; log:\n%s", logs.String())
	}

	// The connection stayed in step: the next request gets its echo.
	if err := client.Send([]byte{}, encodeRequest(t, "users", 1)); err != nil {
		t.Fatal(err)
	}
	if msg := replies.next(t, 5*time.Second); len(msg) != 2 {
		t.Fatalf("reply to the next request: %d frames, want a delimiter and the echo", len(msg))
	}
}

// TestHugeDeclaredFrameLogged declares a frame that no peer sends in full.
// The broker cannot read past it, so it closes the connection and logs why.
func TestHugeDeclaredFrameLogged(t *testing.T) {
	logs := &syncBuffer{}
	cfg := testConfig(t)
	cfg.Log = slog.New(slog.NewTextHandler(logs, nil))
	b := startBroker(t, cfg)
	raw := rawDealer(t, b.FrontendEndpoint())

	// A ZMTP long frame header: the LONG flag, then a 64-bit size.
	header := binary.BigEndian.AppendUint64([]byte{0x02}, 1<<62)
	if _, err := raw.Write(header); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the closed connection logged", func() bool {
		return strings.Contains(logs.String(), "message too large to read")
	})
}

// rawDealer completes a ZMTP 3.0 handshake with endpoint by hand, as a
// DEALER with the NULL mechanism, so that the test can write any bytes
// after it.
func rawDealer(t *testing.T, endpoint string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(endpoint, "tcp://"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))

	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10] = 0xff, 0x7f, 3
	copy(greeting[12:], "NULL")
	property := append([]byte{11}, "Socket-Type"...)
	property = binary.BigEndian.AppendUint32(property, uint32(len(proto.Dealer)))
	property = append(property, proto.Dealer...)
	ready := append([]byte{5}, "READY"...)
	ready = append(ready, property...)
	if _, err := conn.Write(append(append(greeting, 0x04, byte(len(ready))), ready...)); err != nil {
		t.Fatal(err)
	}
	// The broker's greeting, then its READY command, a short frame.
	if _, err := io.ReadFull(conn, make([]byte, 64)); err != nil {
		t.Fatalf("read greeting: %v", err)
	}
	head := make([]byte, 2)
	if _, err := io.ReadFull(conn, head); err != nil {
		t.Fatalf("read READY: %v", err)
	}
	if _, err := io.ReadFull(conn, make([]byte, head[1])); err != nil {
		t.Fatalf("read READY: %v", err)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn
}
