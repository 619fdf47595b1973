package up

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"msgsys/internal/testkit"
	"msgsys/proto"
)

// TestServerNotServingLogged waits for a server whose endpoint accepts
// connections and never replies, as one stuck in its catch-up would. After
// ReadyTimeout the wait must log which server delays the banner.
func TestServerNotServingLogged(t *testing.T) {
	ln, err := proto.Listen("tcp://127.0.0.1:0", proto.Router, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = ln.Serve(ctx, func(conn *proto.Conn) {
			for {
				if _, err := conn.Recv(); err != nil {
					return
				}
			}
		})
	}()

	logs := &testkit.Buffer{}
	u := &Up{cfg: Config{ReadyTimeout: 50 * time.Millisecond, Clocks: proto.NewClocks()}, log: slog.New(slog.NewTextHandler(logs, nil))}
	stuck := &child{spec: childSpec{name: "server-2", args: []string{"server", "--addr", ln.Endpoint()}}, done: make(chan struct{})}
	waited := make(chan bool)
	go func() {
		_, ok := u.waitServersServing(ctx, []*child{stuck})
		waited <- ok
	}()

	testkit.WaitFor(t, 10*time.Second, "the late wait logged", func() bool {
		return strings.Contains(logs.String(), "servers not serving yet")
	})
	if !strings.Contains(logs.String(), "server-2") {
		t.Errorf("the log does not name server-2:\n%s", logs.String())
	}
	cancel()
	if <-waited {
		t.Error("the wait reported every server serving")
	}
	ln.Close()
	<-served
}
