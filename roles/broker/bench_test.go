package broker

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"msgsys/proto"
)

// BenchmarkForward measures requests per second end to end: 16 clients
// doing lock-step round trips through the broker to 3 echo servers, all
// in this process.
func BenchmarkForward(b *testing.B) {
	broker := startBroker(b, testConfig(b))
	for range 3 {
		startServer(b, broker, proto.Dealer, echo)
	}
	waitServers(b, broker, 3)

	const clients = 16
	requesters := make([]*proto.Requester, clients)
	payload := bytes.Repeat([]byte{'r'}, 64)
	for i := range requesters {
		requesters[i] = proto.NewRequester(broker.FrontendEndpoint())
		defer requesters[i].Close()
		// Connect before the clock starts.
		if _, err := requesters[i].Request(context.Background(), payload, 5*time.Second); err != nil {
			b.Fatal(err)
		}
	}

	var left atomic.Int64
	left.Store(int64(b.N))
	var failures atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for _, r := range requesters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				reply, err := r.Request(context.Background(), payload, 5*time.Second)
				if err != nil || !bytes.Equal(reply, payload) {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	if n := failures.Load(); n > 0 {
		b.Errorf("%d of %d requests failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

// BenchmarkFanout measures publications delivered per second: one
// publisher sends 100-byte publications, each to 10 subscribers, all in
// this process. The publisher stays at most window publications ahead of
// the slowest subscriber, so none are dropped.
func BenchmarkFanout(b *testing.B) {
	broker := startBroker(b, testConfig(b))
	const subscribers, window = 10, 2000

	counts := make([]*atomic.Int64, subscribers)
	for i := range counts {
		counts[i] = new(atomic.Int64)
		conn := dial(b, broker.XPubEndpoint(), proto.Sub)
		subscribe(b, conn, true, "bench")
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, err := conn.Recv(); err != nil {
					return
				}
				counts[i].Add(1)
			}
		}()
		b.Cleanup(func() {
			conn.Close()
			<-done
		})
	}
	waitSubscriptions(b, broker, subscribers)
	slowest := func() int64 {
		low := counts[0].Load()
		for _, c := range counts[1:] {
			low = min(low, c.Load())
		}
		return low
	}

	pub := dial(b, broker.XSubEndpoint(), proto.Pub)
	topic, payload := []byte("bench"), bytes.Repeat([]byte{'p'}, 100)
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; sent++ {
		for int64(sent)-slowest() >= window {
			time.Sleep(50 * time.Microsecond) // back-pressure, not synchronisation
		}
		if err := pub.Send(topic, payload); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, 30*time.Second, "every subscriber to receive every publication", func() bool {
		return slowest() == int64(b.N)
	})
	elapsed := time.Since(start)
	b.StopTimer()

	if dropped := droppedFor(broker, "bench"); dropped > 0 {
		b.Errorf("%d publications dropped", dropped)
	}
	b.ReportMetric(float64(subscribers*b.N)/elapsed.Seconds(), "deliveries/s")
}
