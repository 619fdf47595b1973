package proto

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
)

// These tests talk to libzmq through pyzmq (Debian's python3-zmq) and to
// Python's msgpack, the implementations other teams' clients use.

func TestInteropLibzmqReqWithHeartbeats(t *testing.T) {
	requirePython(t, "zmq", "msgpack")
	var connections atomic.Int32
	ln := serve(t, Router, func(c *Conn) {
		connections.Add(1)
		echo(c)
	})

	const requests = 10
	peer := startPython(t, 60*time.Second, "req_heartbeat.py", ln.Endpoint(), fmt.Sprint(requests))
	result := peer.Next(45 * time.Second)
	peer.Finish(10 * time.Second)
	if ok, _ := result["ok"].(float64); ok != requests {
		t.Errorf("%v of %d requests succeeded; failed: %v", result["ok"], requests, result["failed"])
	}
	// libzmq drops a connection whose PINGs go unanswered and reconnects,
	// so one connection for every request means the PONGs arrived.
	if n := connections.Load(); n != 1 {
		t.Errorf("libzmq connected %d times, want 1", n)
	}
}

func TestInteropLibzmqRepAnswersRequester(t *testing.T) {
	requirePython(t, "zmq", "msgpack")
	const requests = 3
	peer := startPython(t, 60*time.Second, "rep_server.py", fmt.Sprint(requests))
	endpoint, _ := peer.Next(20 * time.Second)["endpoint"].(string)

	r := NewRequester(endpoint)
	defer r.Close()
	for i := range requests {
		meta := Meta{Timestamp: goldenMeta.Timestamp, Clock: uint64(100 + i)}
		frame, err := Encode(ServiceLogin, &LoginRequest{User: "José"}, meta)
		if err != nil {
			t.Fatal(err)
		}
		reply, err := r.Request(context.Background(), frame, 5*time.Second)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}

		seen := peer.Next(5 * time.Second)["request"]
		want := map[string]any{"service": "login", "data": map[string]any{
			"user": "José", "timestamp": goldenMeta.Timestamp, "clock": float64(100 + i),
		}}
		if !reflect.DeepEqual(seen, want) {
			t.Errorf("python decoded request %d as %#v, want %#v", i, seen, want)
		}

		env, err := Decode(reply)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if env.Service != ServiceLogin {
			t.Errorf("reply service %q", env.Service)
		}
		if status, err := env.Data.String("status"); err != nil || !IsSuccess(status) {
			t.Errorf("reply status %q, %v", status, err)
		}
		if user, err := env.Data.String("user"); err != nil || user != "José" {
			t.Errorf("reply user %q, %v", user, err)
		}
		if clock, err := env.Data.Clock(); err != nil || clock != uint64(101+i) {
			t.Errorf("reply clock %d, %v; want %d", clock, err, 101+i)
		}
		if _, ok, err := env.Data.Timestamp(); !ok || err != nil {
			t.Errorf("reply timestamp unreadable: %v", err)
		}
	}
	peer.Finish(10 * time.Second)
}

func TestInteropLibzmqSubFromXPubListener(t *testing.T) {
	requirePython(t, "zmq", "msgpack")
	proxy := startXPub(t, "tcp://127.0.0.1:0")
	peer := startPython(t, 60*time.Second, "sub_client.py", proxy.endpoint, "ana")
	waitFor(t, 20*time.Second, "libzmq's subscription to ana", func() bool { return proxy.subscribed("ana") })

	publish := func(topic, text string, all bool) {
		t.Helper()
		payload, err := EncodeData(&Publication{User: "go", Channel: topic, Message: text}, goldenMeta)
		if err != nil {
			t.Fatal(err)
		}
		proxy.publish(topic, string(payload), all)
	}
	publish("anabela", "prefix match", false)
	// Sent although no connection subscribed to it, so libzmq's SUB must
	// filter it out itself.
	publish("bob", "not subscribed", true)
	publish("ana", "end", false)

	for _, want := range []struct{ topic, message string }{{"anabela", "prefix match"}, {"ana", "end"}} {
		got := peer.Next(10 * time.Second)
		payload, _ := got["payload"].(map[string]any)
		if got["topic"] != want.topic || payload["message"] != want.message {
			t.Fatalf("libzmq received %v, want %q on %q", got, want.message, want.topic)
		}
		if payload["timestamp"] != goldenMeta.Timestamp || payload["clock"] != float64(42) || payload["user"] != "go" {
			t.Errorf("payload %v lacks the sender's fields", payload)
		}
	}
	peer.Finish(10 * time.Second)
}

func TestInteropSubscriberFromLibzmqXPub(t *testing.T) {
	requirePython(t, "zmq", "msgpack")
	peer := startPython(t, 60*time.Second, "xpub_server.py")
	endpoint, _ := peer.Next(20 * time.Second)["endpoint"].(string)

	s := runSubscriber(t, endpoint, "ana")
	if sub := peer.Next(10 * time.Second)["subscription"]; sub != "01616e61" {
		t.Fatalf("libzmq's XPUB received subscription %v, want 01616e61 (subscribe ana)", sub)
	}

	// libzmq sends "anabela" too (prefix match) and then "ana", so the
	// Subscriber must skip the first.
	d := nextDelivery(t, s, 10*time.Second)
	if d.Topic != "ana" {
		t.Fatalf("first delivery on %q, want ana", d.Topic)
	}
	data, err := DecodeData(d.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := data.String("message"); err != nil || msg != "for ana" {
		t.Errorf("message %q, %v", msg, err)
	}
	if clock, err := data.Clock(); err != nil || clock != 9 {
		t.Errorf("clock %d, %v", clock, err)
	}
	if ts, ok, err := data.Timestamp(); err != nil || !ok || ts.Unix() != 1796412824 {
		t.Errorf("timestamp %v, %v, %v", ts, ok, err)
	}
	peer.Finish(10 * time.Second)
}
