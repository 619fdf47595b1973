package server

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"msgsys/proto"
	"msgsys/store"
)

// TestElectionRejectionsSetRetry checks the replies to failed channel
// creations. A change of coordinator sets retry, so that a msgsys client
// sends the request once more. An existing name does not set it.
func TestElectionRejectionsSetRetry(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "server.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Server{cfg: Config{Clocks: proto.NewClocks(), Lang: "pt"}, log: slog.New(slog.DiscardHandler), store: st}
	r := &request{s: s, service: proto.ServiceChannel, lang: "pt"}
	for _, c := range []struct {
		err   error
		retry bool
	}{
		{errNoCoordinator, true},
		{errCoordinatorDown, true},
		{errCoordinatorResumed, true},
		{errChannelExists, false},
	} {
		env, err := proto.Decode(r.channelRejected("geral", c.err))
		if err != nil {
			t.Fatal(err)
		}
		if status, _, _ := env.Data.OptString("status"); status != proto.StatusError {
			t.Errorf("%v: status %q, want %q", c.err, status, proto.StatusError)
		}
		if retry, _ := env.Data["retry"].(bool); retry != c.retry {
			t.Errorf("%v: retry %v, want %v", c.err, retry, c.retry)
		}
	}
	if env, _ := proto.Decode(r.channelRejected("geral", errors.New("store: failed to sync the log"))); env.Data["retry"] != nil {
		t.Errorf("an internal error carries retry %v", env.Data["retry"])
	}
}
