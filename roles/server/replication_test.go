package server

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"msgsys/proto"
)

func TestConcurrentChannelCreationOneSucceeds(t *testing.T) {
	c := startCluster(t, 3)
	for round := range 5 {
		name := fmt.Sprintf("sala%d", round)
		var wg sync.WaitGroup
		results := make([]string, 6)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := c.client()
				results[i] = status(cl.call(proto.ServiceChannel, &proto.ChannelRequest{Channel: name}))
			}()
		}
		wg.Wait()
		successes := 0
		for _, s := range results {
			if proto.IsSuccess(s) {
				successes++
			}
		}
		if successes != 1 {
			t.Fatalf("channel %s: %d successes in %v", name, successes, results)
		}
	}
}

func TestCatchUpAfterRestartWithEmptyDirectory(t *testing.T) {
	c := startCluster(t, 3)
	cl := c.client()
	cl.mustSucceed(proto.ServiceLogin, &proto.LoginRequest{User: "ana"})
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "geral"})
	for i := range 20 {
		cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: fmt.Sprintf("antes %d", i)})
	}

	c.stop("server-2")
	if err := os.RemoveAll(filepath.Join(c.dir, "server-2")); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: fmt.Sprintf("durante %d", i)})
	}

	restarted := c.start("server-2")
	waitFor(t, 10*time.Second, "server-2 serving again", restarted.Serving)
	if got := restarted.Store().Counts().Posts; got != 40 {
		t.Fatalf("server-2 serves with %d posts, want 40", got)
	}
	for i := range 10 {
		cl.mustSucceed(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: fmt.Sprintf("depois %d", i)})
	}
	waitFor(t, 5*time.Second, "identical dumps", func() bool {
		first := dumpOf(t, c.servers["server-1"].server)
		return dumpOf(t, c.servers["server-2"].server) == first && dumpOf(t, c.servers["server-3"].server) == first
	})
}

func TestCoordinatorFailoverAndReturn(t *testing.T) {
	c := startCluster(t, 3)
	if got := c.coordinators()["server-1"]; got != "server-3" {
		t.Fatalf("initial coordinator %q", got)
	}

	stopped := time.Now()
	c.stop("server-3")
	waitFor(t, time.Second, "server-2 coordinating on every server", func() bool {
		for _, coordinator := range c.coordinators() {
			if coordinator != "server-2" {
				return false
			}
		}
		return true
	})
	t.Logf("failover took %v", time.Since(stopped))

	c.start("server-3")
	waitFor(t, 5*time.Second, "server-3 coordinating again", func() bool {
		seen := c.coordinators()
		return len(seen) == 3 && seen["server-1"] == "server-3" && seen["server-2"] == "server-3" && seen["server-3"] == "server-3"
	})

	// Channel names are still decided once by the new coordinator.
	cl := c.client()
	cl.mustSucceed(proto.ServiceChannel, &proto.ChannelRequest{Channel: "depois"})
	if env := cl.call(proto.ServiceChannel, &proto.ChannelRequest{Channel: "depois"}); status(env) != proto.StatusError {
		t.Fatalf("second creation: %v", env.Data)
	}
}
