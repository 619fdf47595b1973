package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"msgsys/proto"
)

// TestCallCountsErrorReplies replies to a request as a broker without
// servers does, and checks that the bench's client takes that for a
// rejection. A success reply must count as a success.
func TestCallCountsErrorReplies(t *testing.T) {
	ln, err := proto.Listen("tcp://127.0.0.1:0", zmq4.Router, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	status := make(chan string, 2)
	status <- "erro"
	status <- "OK"
	go func() {
		_ = ln.Serve(ctx, func(conn *proto.Conn) {
			for {
				frames, err := conn.Recv()
				if err != nil {
					return
				}
				reply, err := proto.Encode(proto.ServicePublish, &proto.ResultReply{Status: <-status, Message: "nenhum servidor disponível"}, proto.NewClocks().Meta())
				if err != nil {
					t.Error(err)
					return
				}
				if err := conn.Send(frames[0], []byte{}, reply); err != nil {
					return
				}
			}
		})
	}()

	c := newClient(ln.Endpoint(), proto.NewClocks())
	defer c.close()
	frame, err := proto.Encode(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: "oi"}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.call(ctx, proto.ServicePublish, frame, 5*time.Second); !errors.Is(err, errRejected) {
		t.Errorf("error reply gave %v, want errRejected", err)
	}
	if err := c.call(ctx, proto.ServicePublish, frame, 5*time.Second); err != nil {
		t.Errorf("success reply gave %v", err)
	}
}

// TestClientTimesOutAndRedials leaves the first request without a reply:
// the client gives up at its deadline, and its next request goes over a
// new connection, which the server answers.
func TestClientTimesOutAndRedials(t *testing.T) {
	ln, err := proto.Listen("tcp://127.0.0.1:0", zmq4.Router, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	connections := make(chan struct{}, 4)
	go func() {
		_ = ln.Serve(ctx, func(conn *proto.Conn) {
			connections <- struct{}{}
			first := len(connections) == 1
			for {
				frames, err := conn.Recv()
				if err != nil {
					return
				}
				if first {
					continue // the request that times out
				}
				reply, err := proto.Encode(proto.ServicePublish, &proto.ResultReply{Status: "OK"}, proto.NewClocks().Meta())
				if err != nil {
					t.Error(err)
					return
				}
				if err := conn.Send(frames[0], []byte{}, reply); err != nil {
					return
				}
			}
		})
	}()

	c := newClient(ln.Endpoint(), proto.NewClocks())
	defer c.close()
	frame, err := proto.Encode(proto.ServicePublish, &proto.PublishRequest{User: "ana", Channel: "geral", Message: "oi"}, proto.NewClocks().Meta())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.call(ctx, proto.ServicePublish, frame, 200*time.Millisecond); !errors.Is(err, proto.ErrTimeout) {
		t.Fatalf("unanswered request gave %v, want ErrTimeout", err)
	}
	if err := c.call(ctx, proto.ServicePublish, frame, 5*time.Second); err != nil {
		t.Fatalf("request after a timeout gave %v", err)
	}
	if n := len(connections); n != 2 {
		t.Errorf("%d connections, want a new one after the timeout", n)
	}
}
