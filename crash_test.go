package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"msgsys/proto"
)

// reqClient is a minimal REQ client of the broker for process tests.
type reqClient struct {
	req    *proto.Requester
	clocks proto.Clocks
}

func newClient(frontend string) *reqClient {
	return &reqClient{req: proto.NewRequester(frontend), clocks: proto.NewClocks()}
}

// call sends a request and reports whether it succeeded.
func (c *reqClient) call(service string, data any) (bool, error) {
	frame, err := proto.Encode(service, data, c.clocks.Meta())
	if err != nil {
		return false, err
	}
	return c.send(frame)
}

func (c *reqClient) send(frame []byte) (bool, error) {
	payload, err := c.req.Request(context.Background(), frame, 5*time.Second)
	if err != nil {
		return false, err
	}
	env, err := proto.Decode(payload)
	if err != nil {
		return false, err
	}
	status, _, _ := env.Data.OptString("status")
	return proto.IsSuccess(status), nil
}

// postTexts runs msgsys dump on a data directory and returns how often
// each post text appears.
func postTexts(t *testing.T, dir string) map[string]int {
	t.Helper()
	out, err := exec.Command(binary, "dump", "--data", dir).Output()
	if err != nil {
		t.Fatalf("dump %s: %v", dir, err)
	}
	var doc any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("dump %s is not JSON: %v", dir, err)
	}
	texts := map[string]int{}
	var walk func(v any, underPosts bool)
	walk = func(v any, underPosts bool) {
		switch v := v.(type) {
		case map[string]any:
			if text, ok := v["text"].(string); ok && underPosts {
				texts[text]++
			}
			for key, item := range v {
				walk(item, key == "posts")
			}
		case []any:
			for _, item := range v {
				walk(item, underPosts)
			}
		}
	}
	walk(doc, false)
	return texts
}

func TestProcessCrashesLoseNoAcknowledgedWrite(t *testing.T) {
	// A killed process loses nothing from the page cache, so writes
	// acknowledged before their sync (--sync-every) survive too.
	for _, serverArgs := range [][]string{nil, {"--sync-every", "20ms"}} {
		name := "sync each write"
		if serverArgs != nil {
			name = strings.Join(serverArgs, " ")
		}
		t.Run(name, func(t *testing.T) {
			crashesLoseNothing(t, serverArgs)
		})
	}
}

func crashesLoseNothing(t *testing.T, serverArgs []string) {
	s := startStackWith(t, 3, serverArgs...)
	setup := newClient(s.frontend)
	defer setup.req.Close()
	if ok, err := setup.call(proto.ServiceLogin, &proto.LoginRequest{User: "ana"}); !ok {
		t.Fatalf("login: %v", err)
	}
	// Right after start the coordinator may still be settling, which the
	// server reports as "try again".
	for attempt := 0; ; attempt++ {
		ok, err := setup.call(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral", ID: "create-geral"})
		if ok {
			break
		}
		if attempt == 20 {
			t.Fatalf("channel: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // paces the retries
	}

	var mu sync.Mutex
	acked := map[string]bool{}
	ctx, stop := context.WithCancel(context.Background())
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			c := newClient(s.frontend)
			defer c.req.Close()
			for i := 0; ctx.Err() == nil; i++ {
				text := fmt.Sprintf("w%d-%d", w, i)
				// The id makes a retry after a lost reply safe.
				frame, err := proto.Encode(proto.ServicePublish, &publishWithID{User: "ana", Channel: "geral", Message: text, ID: text}, c.clocks.Meta())
				if err != nil {
					t.Error(err)
					return
				}
				for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
					if ok, _ := c.send(frame); ok {
						mu.Lock()
						acked[text] = true
						mu.Unlock()
						break
					}
				}
			}
		}()
	}

	// Kill each server in turn while the writers run, and restart it, half
	// of the time with its data directory deleted.
	for round := range 6 {
		name := fmt.Sprintf("server-%d", round%3+1)
		time.Sleep(300 * time.Millisecond) // paces the chaos, synchronises nothing
		s.kill(name)
		if round%2 == 1 {
			if err := os.RemoveAll(filepath.Join(s.dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		s.startServer(name, round%3+1)
		waitServing(t, s.serverAddr[name])
	}
	stop()
	writers.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 50 {
		t.Fatalf("only %d writes acknowledged; the load did not run", len(acked))
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("server-%d", i)
		var texts map[string]int
		deadline := time.Now().Add(10 * time.Second)
		for {
			texts = postTexts(t, filepath.Join(s.dir, name))
			missing := 0
			for text := range acked {
				if texts[text] == 0 {
					missing++
				}
			}
			if missing == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s lacks %d of %d acknowledged writes", name, missing, len(acked))
			}
			time.Sleep(100 * time.Millisecond) // polling interval
		}
		for text, n := range texts {
			if n > 1 {
				t.Errorf("%s holds %q %d times", name, text, n)
			}
		}
	}
}

// publishWithID is a publish request carrying msgsys's optional request id.
type publishWithID struct {
	User      string `msgpack:"user"`
	Channel   string `msgpack:"channel"`
	Message   string `msgpack:"message"`
	ID        string `msgpack:"id"`
	Timestamp string `msgpack:"timestamp"`
	Clock     uint64 `msgpack:"clock"`
}

// waitServing waits until the server at addr has caught up and serves.
func waitServing(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		data, err := serverStatus(addr, 300*time.Millisecond)
		if err == nil && data["serving"] == true {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server at %s not serving: %v %v", addr, data, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func TestProcessCoordinatorKillUnderLoadElectsOnce(t *testing.T) {
	s := startStack(t, 3)
	setup := newClient(s.frontend)
	defer setup.req.Close()
	setup.call(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	setup.call(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})

	sub := proto.NewSubscriber(s.xpub, nil)
	sub.Subscribe(proto.ReservedTopic)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go sub.Run(ctx)
	<-sub.Connected()

	var writers sync.WaitGroup
	for range 8 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			c := newClient(s.frontend)
			defer c.req.Close()
			for i := 0; ctx.Err() == nil; i++ {
				c.call(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: fmt.Sprint(i)})
			}
		}()
	}

	time.Sleep(500 * time.Millisecond) // lets the load build up
	s.kill("server-3")
	s.waitAgreement(3*time.Second, "server-2", 2)

	// Count every announcement in the second after agreement.
	announcements := 0
	quiet := time.After(time.Second)
count:
	for {
		select {
		case d := <-sub.Deliveries():
			env, err := proto.Decode(d.Payload)
			if err == nil && env.Service == proto.ServiceElection {
				announcements++
				t.Logf("announcement %v", env.Data)
			}
		case <-quiet:
			break count
		}
	}
	stop()
	writers.Wait()
	if announcements != 1 {
		t.Errorf("%d announcements after the coordinator died, want 1", announcements)
	}
}
