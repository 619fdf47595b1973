package election

import (
	"context"
	"testing"
)

// silentTransport answers nothing; these tests drive the state machine
// through its handlers, and roles/server tests elections over sockets.
type silentTransport struct{}

func (silentTransport) Elect(context.Context, Member, uint64) bool       { return false }
func (silentTransport) Ping(context.Context, Member) bool                { return false }
func (silentTransport) Announce(context.Context, Announcement, []Member) {}
func (silentTransport) Tell(context.Context, Announcement, Member)       {}

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
	n.HandleElection(9)
	if got := n.Epoch(); got != 9 {
		t.Fatalf("epoch %d, want 9", got)
	}
	if !triggered(n) {
		t.Fatal("an election message did not start an election")
	}
}

func TestWinnerAnnouncesNewEpoch(t *testing.T) {
	n := newTestNode(3)
	n.HandleElection(4)
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
