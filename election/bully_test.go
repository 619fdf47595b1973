package election

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// silentTransport answers nothing; these tests drive the state machine
// through its handlers, and roles/server tests elections over sockets.
type silentTransport struct{}

func (silentTransport) Elect(context.Context, Member, uint64) Reply      { return NoReply }
func (silentTransport) Ping(context.Context, Member) bool                { return false }
func (silentTransport) Announce(context.Context, Announcement, []Member) {}
func (silentTransport) Tell(context.Context, Announcement, Member)       {}
func (silentTransport) Reach(context.Context, Member, Member) (bool, Announcement) {
	return false, Announcement{}
}

// replyingTransport gives every election message the same reply and
// records who received one.
type replyingTransport struct {
	silentTransport
	reply Reply

	mu         sync.Mutex
	recipients []string
}

func (tr *replyingTransport) Elect(_ context.Context, m Member, _ uint64) Reply {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.recipients = append(tr.recipients, m.Name)
	return tr.reply
}

// Ping succeeds: a member that replies to election messages is reachable.
func (tr *replyingTransport) Ping(context.Context, Member) bool { return true }

func (tr *replyingTransport) recipientNames() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.recipients)
}

func newTestNode(rank int64) *Node {
	return New(Config{Self: Member{Name: "self", Rank: rank}, Transport: silentTransport{}})
}

func triggered(n *Node) bool {
	select {
	case <-n.trigger:
		return true
	default:
		return false
	}
}

func TestAnnouncementNewerEpochWins(t *testing.T) {
	n := newTestNode(1)
	n.HandleAnnouncement(Announcement{Coordinator: "b", Rank: 3, Epoch: 2})
	n.HandleAnnouncement(Announcement{Coordinator: "a", Rank: 2, Epoch: 3})
	if a, _ := n.Coordinator(); a.Coordinator != "a" {
		t.Fatalf("coordinator %q, want a (newer epoch)", a.Coordinator)
	}
}

func TestAnnouncementStaleEpochIgnored(t *testing.T) {
	n := newTestNode(1)
	n.HandleAnnouncement(Announcement{Coordinator: "a", Rank: 2, Epoch: 5})
	n.HandleAnnouncement(Announcement{Coordinator: "b", Rank: 3, Epoch: 4})
	if a, _ := n.Coordinator(); a.Coordinator != "a" {
		t.Fatalf("coordinator %q, want a: epoch 4 is stale", a.Coordinator)
	}
}

func TestAnnouncementSameEpochHigherRankWins(t *testing.T) {
	n := newTestNode(1)
	n.HandleAnnouncement(Announcement{Coordinator: "a", Rank: 2, Epoch: 5})
	n.HandleAnnouncement(Announcement{Coordinator: "b", Rank: 3, Epoch: 5})
	if a, _ := n.Coordinator(); a.Coordinator != "b" {
		t.Fatalf("coordinator %q, want b", a.Coordinator)
	}
	n.HandleAnnouncement(Announcement{Coordinator: "a", Rank: 2, Epoch: 5})
	if a, _ := n.Coordinator(); a.Coordinator != "b" {
		t.Fatalf("coordinator %q after a lower rank at the same epoch, want b", a.Coordinator)
	}
}

func TestLowerRankClaimIsBullied(t *testing.T) {
	n := newTestNode(5)
	n.HandleAnnouncement(Announcement{Coordinator: "low", Rank: 2, Epoch: 7})
	if _, ok := n.Coordinator(); ok {
		t.Fatal("a lower rank was accepted as coordinator")
	}
	if !triggered(n) {
		t.Fatal("no election after a lower rank claimed to coordinate")
	}
	if got := n.Epoch(); got != 7 {
		t.Fatalf("epoch %d, want 7 so the next announcement outranks the claim", got)
	}
}

func TestAnnouncementWithoutEpochComparesRanks(t *testing.T) {
	n := newTestNode(1)
	n.SetMembers([]Member{{Name: "a", Rank: 2}, {Name: "b", Rank: 3}})
	n.HandleAnnouncement(Announcement{Coordinator: "a", Rank: 2, Epoch: 4})
	// Other implementations send no epoch and no rank.
	n.HandleAnnouncement(Announcement{Coordinator: "b"})
	if a, _ := n.Coordinator(); a.Coordinator != "b" || a.Rank != 3 {
		t.Fatalf("coordinator %+v, want b with rank 3 from the members", a)
	}
}

func TestElectionMessageRaisesEpoch(t *testing.T) {
	n := newTestNode(3)
	n.HandleElection(9, Member{})
	if got := n.Epoch(); got != 9 {
		t.Fatalf("epoch %d, want 9", got)
	}
	if !triggered(n) {
		t.Fatal("an election message did not start an election")
	}
}

func TestWinnerAnnouncesNewEpoch(t *testing.T) {
	n := newTestNode(3)
	n.HandleElection(4, Member{})
	<-n.trigger
	n.elect(context.Background())
	a, ok := n.Coordinator()
	if !ok || a.Coordinator != "self" || a.Epoch != 5 {
		t.Fatalf("after winning: %+v, want self at epoch 5", a)
	}
	// Winning again with nothing new keeps the epoch: no second announcement.
	n.elect(context.Background())
	if a, _ := n.Coordinator(); a.Epoch != 5 {
		t.Fatalf("epoch %d after a repeated win, want 5", a.Epoch)
	}
}

// TestElectionIncludesUnlistedCoordinator accepts a higher coordinator that
// the member list does not name yet, as after a restart when the list
// lags the reference. An election must ask that coordinator, not win.
func TestElectionIncludesUnlistedCoordinator(t *testing.T) {
	tr := &replyingTransport{reply: OK}
	n := New(Config{Self: Member{Name: "self", Rank: 2}, Transport: tr, AnnounceTimeout: 10 * time.Millisecond})
	n.HandleAnnouncement(Announcement{Coordinator: "high", Rank: 3, Epoch: 4, Addr: "tcp://127.0.0.1:5562"})

	n.elect(context.Background())
	if recipients := tr.recipientNames(); !slices.Equal(recipients, []string{"high"}) {
		t.Errorf("election sent to %v, want [high]", recipients)
	}
	if a, _ := n.Coordinator(); a.Coordinator != "high" || a.Epoch != 4 {
		t.Fatalf("coordinator %+v after the election, want high at epoch 4", a)
	}
}

// TestElectionWaitsWhenHigherRankDeclines has the only higher rank decline,
// as a server that is catching up does. The candidate must not win before
// that rank announces itself.
func TestElectionWaitsWhenHigherRankDeclines(t *testing.T) {
	tr := &replyingTransport{reply: Declined}
	var mu sync.Mutex
	var changes []string
	n := New(Config{
		Self:            Member{Name: "self", Rank: 1},
		Transport:       tr,
		AnnounceTimeout: time.Minute,
		OnChange: func(a Announcement) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, a.Coordinator)
		},
	})
	n.SetMembers([]Member{{Name: "high", Rank: 2, Addr: "tcp://127.0.0.1:5562"}})

	done := make(chan struct{})
	go func() {
		defer close(done)
		n.elect(context.Background())
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(tr.recipientNames()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no election message sent")
		}
		time.Sleep(time.Millisecond) // polling interval, not synchronisation
	}
	n.HandleAnnouncement(Announcement{Coordinator: "high", Rank: 2, Epoch: 1})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the election did not end with the announcement")
	}

	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(changes, []string{"high"}) {
		t.Fatalf("coordinators accepted %v, want only [high]", changes)
	}
}

// TestElectionWinsWhenDeclinedTooLong bounds that wait: a higher rank that
// still declines after AnnounceTimeout is passed over.
func TestElectionWinsWhenDeclinedTooLong(t *testing.T) {
	tr := &replyingTransport{reply: Declined}
	n := New(Config{Self: Member{Name: "self", Rank: 1}, Transport: tr, AnnounceTimeout: 10 * time.Millisecond})
	n.SetMembers([]Member{{Name: "high", Rank: 2, Addr: "tcp://127.0.0.1:5562"}})

	n.elect(context.Background())
	if recipients := tr.recipientNames(); !slices.Equal(recipients, []string{"high", "high"}) {
		t.Errorf("election sent to %v, want high twice: before and after the wait", recipients)
	}
	if !n.IsCoordinator() {
		t.Fatal("not coordinator after the declining rank let the wait pass")
	}
}

// TestElectionPassesOverSilentOK checks that a higher rank that replies OK
// and never announces keeps the cluster without a coordinator only for
// SilentLimit elections, and counts again once it announces.
func TestElectionPassesOverSilentOK(t *testing.T) {
	tr := &replyingTransport{reply: OK}
	n := New(Config{Self: Member{Name: "self", Rank: 1}, Transport: tr, AnnounceTimeout: 10 * time.Millisecond, SilentLimit: 3, PassOverFor: time.Minute})
	n.SetMembers([]Member{{Name: "high", Rank: 2, Addr: "tcp://127.0.0.1:5562"}})

	for i := range 3 {
		n.elect(context.Background())
		if n.IsCoordinator() {
			t.Fatalf("coordinator after %d silent OKs, want the higher rank waited for 3 times", i+1)
		}
	}
	n.elect(context.Background())
	if !n.IsCoordinator() {
		t.Fatal("not coordinator after 3 silent OKs")
	}
	if recipients := tr.recipientNames(); !slices.Equal(recipients, []string{"high", "high", "high"}) {
		t.Errorf("election sent to %v, want high 3 times and not after", recipients)
	}

	n.HandleAnnouncement(Announcement{Coordinator: "high", Rank: 2, Epoch: n.Epoch() + 1})
	if a, _ := n.Coordinator(); a.Coordinator != "high" {
		t.Fatalf("coordinator %q after high announced, want high", a.Coordinator)
	}
	n.elect(context.Background())
	if recipients := tr.recipientNames(); len(recipients) != 4 {
		t.Errorf("election sent to %v, want high asked again after it announced", recipients)
	}
}

// TestPassOverEndsWhenAddressChanges checks that a member passed over for
// silent OKs counts again once it restarts at another address, as after
// its owner fixed it.
func TestPassOverEndsWhenAddressChanges(t *testing.T) {
	tr := &replyingTransport{reply: OK}
	n := New(Config{Self: Member{Name: "self", Rank: 1}, Transport: tr, AnnounceTimeout: 10 * time.Millisecond, SilentLimit: 3, PassOverFor: time.Minute})
	n.SetMembers([]Member{{Name: "high", Rank: 2, Addr: "tcp://127.0.0.1:5562"}})
	for range 4 {
		n.elect(context.Background())
	}
	if got := len(tr.recipientNames()); got != 3 {
		t.Fatalf("high received %d election messages, want 3 before it was passed over", got)
	}

	n.SetMembers([]Member{{Name: "high", Rank: 2, Addr: "tcp://127.0.0.1:6562"}})
	n.elect(context.Background())
	if got := len(tr.recipientNames()); got != 4 {
		t.Errorf("high received %d election messages, want one more at its new address", got)
	}
}

// confirmingTransport replies OK to every election message, and the
// coordinator's reply comes with its confirmation, as a msgsys coordinator
// sends one to a lower rank's election.
type confirmingTransport struct {
	replyingTransport
	node        *Node
	coordinator Announcement
}

func (tr *confirmingTransport) Elect(ctx context.Context, m Member, epoch uint64) Reply {
	reply := tr.replyingTransport.Elect(ctx, m, epoch)
	if m.Name == tr.coordinator.Coordinator {
		tr.node.HandleAnnouncement(tr.coordinator)
	}
	return reply
}

// TestSilentOKBelowConfirmation checks that a higher rank whose
// OK is followed by the confirmation of a lower coordinator counts as
// silent too, so a lower rank stops sending it elections.
func TestSilentOKBelowConfirmation(t *testing.T) {
	mid := Announcement{Coordinator: "mid", Rank: 2, Epoch: 4}
	tr := &confirmingTransport{replyingTransport: replyingTransport{reply: OK}, coordinator: mid}
	n := New(Config{Self: Member{Name: "self", Rank: 1}, Transport: tr, AnnounceTimeout: 10 * time.Millisecond, SilentLimit: 3, PassOverFor: time.Minute})
	tr.node = n
	n.SetMembers([]Member{{Name: "mid", Rank: 2, Addr: "tcp://127.0.0.1:5561"}, {Name: "high", Rank: 3, Addr: "tcp://127.0.0.1:5562"}})
	n.HandleAnnouncement(mid)

	for range 4 {
		n.elect(context.Background())
	}
	highs := 0
	for _, name := range tr.recipientNames() {
		if name == "high" {
			highs++
		}
	}
	if highs != 3 {
		t.Errorf("high received %d election messages, want 3 before it was passed over", highs)
	}
	if a, _ := n.Coordinator(); a.Coordinator != "mid" {
		t.Errorf("coordinator = %q, want mid", a.Coordinator)
	}
}

// TestWaitCoordinatorReturnsOnAnnouncement waits while no coordinator is
// accepted and must return the first one accepted.
func TestWaitCoordinatorReturnsOnAnnouncement(t *testing.T) {
	n := newTestNode(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	_, ok := n.WaitCoordinator(ctx)
	cancel()
	if ok {
		t.Fatal("a coordinator returned before any was accepted")
	}

	type result struct {
		a  Announcement
		ok bool
	}
	done := make(chan result, 1)
	go func() {
		a, ok := n.WaitCoordinator(context.Background())
		done <- result{a, ok}
	}()
	n.HandleAnnouncement(Announcement{Coordinator: "high", Rank: 2, Epoch: 3})
	select {
	case r := <-done:
		if !r.ok || r.a.Coordinator != "high" {
			t.Fatalf("WaitCoordinator returned %+v, %v; want high", r.a, r.ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitCoordinator did not return after the announcement")
	}
}

// blockingAnnouncer holds every announcement until release is closed.
type blockingAnnouncer struct {
	silentTransport
	started chan struct{}
	release chan struct{}
}

func (tr *blockingAnnouncer) Announce(context.Context, Announcement, []Member) {
	close(tr.started)
	<-tr.release
}

// TestWinnerCoordinatesAfterAnnouncement checks that a node that has won
// does not coordinate until its announcement has reached the members, so
// that the coordinator it replaces can finish its decisions first.
func TestWinnerCoordinatesAfterAnnouncement(t *testing.T) {
	tr := &blockingAnnouncer{started: make(chan struct{}), release: make(chan struct{})}
	n := New(Config{Self: Member{Name: "self", Rank: 3}, Transport: tr})
	won := make(chan struct{})
	go func() {
		defer close(won)
		n.elect(context.Background())
	}()
	<-tr.started

	if a, ok := n.Coordinator(); !ok || a.Coordinator != "self" {
		t.Fatalf("coordinator %+v while announcing, want self accepted", a)
	}
	if n.IsCoordinator() {
		t.Error("IsCoordinator true while the announcement is on its way")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if n.Coordinating(ctx) {
		t.Error("Coordinating true before the announcement reached the members")
	}

	decided := make(chan bool)
	go func() { decided <- n.Coordinating(context.Background()) }()
	close(tr.release)
	if !<-decided {
		t.Error("Coordinating false after the announcement")
	}
	<-won
	if !n.IsCoordinator() {
		t.Error("IsCoordinator false after the announcement")
	}
}

// recordingHandler keeps the message and level of every log record.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}

// count returns how many records have message msg and level.
func (h *recordingHandler) count(msg string, level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Message == msg && r.Level == level {
			n++
		}
	}
	return n
}

func TestHigherRankLoggedOncePerChange(t *testing.T) {
	logs := &recordingHandler{}
	n := New(Config{
		Self:            Member{Name: "self", Rank: 1},
		Transport:       silentTransport{},
		Log:             slog.New(logs),
		AnnounceTimeout: time.Nanosecond,
	})
	n.HandleAnnouncement(Announcement{Coordinator: "self", Rank: 1, Epoch: 1})

	// A higher rank without an address stays listed: every refresh
	// elects again, but only the first logs at INFO.
	higher := []Member{{Name: "std-1", Rank: 3}}
	for range 5 {
		n.SetMembers(higher)
		if !triggered(n) {
			t.Fatal("listing a higher rank did not request an election")
		}
	}
	if got := logs.count("higher rank available", slog.LevelInfo); got != 1 {
		t.Errorf("INFO lines for the same higher rank = %d, want 1", got)
	}

	// Another higher rank is a change and is logged again.
	n.SetMembers([]Member{{Name: "std-2", Rank: 4}})
	if got := logs.count("higher rank available", slog.LevelInfo); got != 2 {
		t.Errorf("INFO lines after a new higher rank = %d, want 2", got)
	}
}
