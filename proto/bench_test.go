package proto

import (
	"context"
	"strings"
	"testing"
	"time"
)

// benchMeta is fixed metadata, so the benchmarks measure the codec and
// not the clocks.
var benchMeta = Meta{Timestamp: "2026-12-04T19:33:44.738Z", Clock: 42}

func benchPublishFrame(b *testing.B) []byte {
	b.Helper()
	req := &PublishRequest{User: "ana", Channel: "geral", Message: strings.Repeat("x", 64), ID: "k3j2h1g0f9e8"}
	frame, err := Encode(ServicePublish, req, benchMeta)
	if err != nil {
		b.Fatal(err)
	}
	return frame
}

// BenchmarkEncodePublish encodes the most frequent client request.
func BenchmarkEncodePublish(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		req := &PublishRequest{User: "ana", Channel: "geral", Message: "olá, tudo bem? uma mensagem de tamanho comum", ID: "k3j2h1g0f9e8"}
		if _, err := Encode(ServicePublish, req, benchMeta); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePublish decodes a publish request leniently into maps,
// as a server does with every client request.
func BenchmarkDecodePublish(b *testing.B) {
	frame := benchPublishFrame(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		env, err := Decode(frame)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := env.Data.String("message"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeIntoPublish decodes the same request strictly into a
// struct, the typed path of server-to-server messages.
func BenchmarkDecodeIntoPublish(b *testing.B) {
	frame := benchPublishFrame(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		var req PublishRequest
		if _, err := DecodeInto(frame, &req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPeekService reads only the service name, as the
// server-to-server dispatcher does before choosing a decoder.
func BenchmarkPeekService(b *testing.B) {
	frame := benchPublishFrame(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PeekService(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeHistoryReply encodes a full default page of history.
func BenchmarkEncodeHistoryReply(b *testing.B) {
	page := make([]*Publication, HistoryDefaultLimit)
	for i := range page {
		page[i] = &Publication{User: "ana", Channel: "geral", Message: strings.Repeat("x", 64), Timestamp: benchMeta.Timestamp, Clock: uint64(i)}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(ServiceHistory, &HistoryReply{Status: StatusOK, Messages: page}, benchMeta); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeHistoryReply decodes that page leniently, as a client
// does.
func BenchmarkDecodeHistoryReply(b *testing.B) {
	page := make([]*Publication, HistoryDefaultLimit)
	for i := range page {
		page[i] = &Publication{User: "ana", Channel: "geral", Message: strings.Repeat("x", 64), Timestamp: benchMeta.Timestamp, Clock: uint64(i)}
	}
	frame, err := Encode(ServiceHistory, &HistoryReply{Status: StatusOK, Messages: page}, benchMeta)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestRoundTrip is one lock-step request and reply through a
// Requester and an echoing Conn on loopback: the transport cost of a
// client request without the broker.
func BenchmarkRequestRoundTrip(b *testing.B) {
	ln, err := Listen("tcp://127.0.0.1:0", Rep, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		ln.Serve(ctx, echo)
	}()
	b.Cleanup(func() {
		cancel()
		<-served
	})

	r := NewRequester(ln.Endpoint())
	defer r.Close()
	frame := benchPublishFrame(b)
	for b.Loop() {
		if _, err := r.Request(context.Background(), frame, 5*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
