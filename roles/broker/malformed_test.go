package broker

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"msgsys/proto"
)

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
