package server

import (
	"io"
	"msgsys/clock"
	"msgsys/proto"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// delayProxy forwards TCP connections to target and delays every chunk by
// delay in each direction, as a slow network link would.
type delayProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	wg     sync.WaitGroup

	mu    sync.Mutex // guards conns
	conns []net.Conn
}

func startDelayProxy(t *testing.T, target string, delay time.Duration) *delayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{ln: ln, target: target, delay: delay}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *delayProxy) endpoint() string { return "tcp://" + p.ln.Addr().String() }

func (p *delayProxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(client, server)
		go p.pipe(server, client)
	}
}

// pipe copies src to dst, each chunk delayed, and closes both at the end.
func (p *delayProxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	type chunk struct {
		due  time.Time
		data []byte
	}
	chunks := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range chunks {
			time.Sleep(time.Until(c.due)) // the simulated link delay
			if _, err := dst.Write(c.data); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case chunks <- chunk{due: time.Now().Add(p.delay), data: append([]byte(nil), buf[:n]...)}:
			case <-done:
				// The writer stopped on an error; nothing more can pass.
				err = io.ErrClosedPipe
			}
		}
		if err != nil {
			if err != io.EOF {
				src.Close()
			}
			break
		}
	}
	close(chunks)
	<-done
	src.Close()
	dst.Close()
}

func TestBerkeleyDelayedLinkDoesNotBias(t *testing.T) {
	c := &cluster{t: t, dir: t.TempDir(), servers: map[string]*node{}}
	c.startInfrastructure()

	// server-2 is reached through a link that adds 40ms each way, and its
	// clock is 300ms ahead.
	// The proxy binds a port outside the ephemeral range, where no
	// outgoing connection takes it between the check and the bind.
	ports, err := proto.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	port := "127.0.0.1:" + strconv.Itoa(ports[0])
	proxy := startDelayProxy(t, port, 40*time.Millisecond)

	skews := map[string]time.Duration{"server-1": 0, "server-2": 300 * time.Millisecond, "server-3": -100 * time.Millisecond}
	for i := 1; i <= 3; i++ {
		cfg := c.config(serverName(i))
		cfg.Clocks = proto.Clocks{Lamport: new(clock.Lamport), Physical: newSkewedClock(skews[cfg.Name])}
		cfg.BerkeleyEvery = time.Hour
		if cfg.Name == "server-2" {
			cfg.Bind = "tcp://" + port
			cfg.Addr = proxy.endpoint()
		}
		s := c.startWith(cfg)
		waitFor(t, 5*time.Second, "registration", func() bool { return s.Rank() > 0 })
	}
	c.waitServing(3)

	coordinator := c.servers["server-3"].server
	a, _ := coordinator.Coordinator()
	coordinator.berkeleyRound(t.Context(), a.Epoch)
	waitFor(t, 3*time.Second, "clocks within 5ms despite the delayed link", func() bool {
		return spread(c) < 5*time.Millisecond
	})
	t.Logf("spread after one round over a delayed link: %v", spread(c))
}
