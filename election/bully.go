// Package election chooses the coordinator with the Bully algorithm over
// the ranks the reference service hands out: the available server with
// the highest rank coordinates. Announcements carry an epoch, so a late or
// stale one is ignored, and one goroutine runs every election of a node,
// so however many failures it notices at once it starts one election.
package election

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Member is a server taking part in elections.
type Member struct {
	Name string
	Rank int64
	Addr string
}

// Announcement records that Coordinator won the election of Epoch.
type Announcement struct {
	Coordinator string
	Rank        int64
	Epoch       uint64
	Addr        string // the coordinator's endpoint, so it can be pinged before the reference lists it
}

// Reply is a member's reply to an election message.
type Reply int

const (
	// NoReply means the member did not reply before the deadline, and
	// counts as down.
	NoReply Reply = iota
	// OK means the member is alive and takes the election over.
	OK
	// Declined means the member is alive but may not coordinate yet, as a
	// server that is still catching up. It starts its own election once it
	// may.
	Declined
)

// Transport carries the election's messages. The server implements it
// over its server-to-server endpoint and the pub/sub proxy.
type Transport interface {
	// Elect sends the Bully election message, with the newest epoch the
	// sender has seen, to m and returns m's reply, NoReply once ctx
	// expires.
	Elect(ctx context.Context, m Member, epoch uint64) Reply
	// Ping sends m a request and reports whether it replied before ctx
	// expired.
	Ping(ctx context.Context, m Member) bool
	// Announce sends to every member, and to anyone subscribed to the topic
	// "servers", the announcement that this node won.
	Announce(ctx context.Context, a Announcement, members []Member)
	// Tell sends the current announcement to one member only, to a node
	// whose election message reached a coordinator that has nothing new to
	// announce.
	Tell(ctx context.Context, a Announcement, m Member)
	// Reach requests via to ping target on this node's behalf. It reports
	// whether target replied to via before ctx expired, and the
	// coordinator via accepts, zero when none. A member that cannot tell,
	// as a server of another implementation, reports false.
	Reach(ctx context.Context, via, target Member) (bool, Announcement)
}

// Config configures a Node. Durations are short in tests.
type Config struct {
	Self      Member
	Transport Transport
	Log       *slog.Logger

	// CheckEvery is how often a node pings the coordinator; Misses
	// consecutive failed pings, each bounded by CheckTimeout, start an
	// election. With the defaults a dead coordinator is noticed within
	// 500 ms: two pings 100 ms apart, each given up after 150 ms.
	CheckEvery   time.Duration
	CheckTimeout time.Duration
	Misses       int
	// OKTimeout is how long a candidate waits for an OK from a higher rank.
	OKTimeout time.Duration
	// AnnounceTimeout is how long a candidate that got an OK waits for the
	// winner's announcement before it starts over.
	AnnounceTimeout time.Duration
	// SilentLimit is how many elections in a row a higher rank may reply
	// OK to without an announcement following. Then the node passes over
	// it for PassOverFor, so that a server whose announcements never
	// arrive cannot keep the cluster without a coordinator.
	SilentLimit int
	PassOverFor time.Duration
	// NewMemberGrace is how long a member that has never replied to this
	// node may be listed before it counts against the majority. A name
	// registered once at the reference, with no server behind it, leaves
	// the list when its heartbeats are due (3 s by default), and must not
	// take the coordinator down meanwhile.
	NewMemberGrace time.Duration
	// OnChange, when set, is called with each newly accepted coordinator.
	OnChange func(Announcement)
	// OnMajorityRegained, when set, is called when a majority check
	// succeeds after one that failed, with a member replying. The node
	// was then on the minority
	// side of a partition, and may lack decisions of the majority's
	// coordinator, such as channel names. A server catches up before it
	// may coordinate again, which MayCoordinate reports; the call must
	// make MayCoordinate false before it returns.
	OnMajorityRegained func()
	// MayCoordinate, when set, reports whether this node may coordinate
	// now. While it returns false the node starts no election, and it does
	// not act as coordinator even if it won before (IsCoordinator). A
	// server returns false while it catches up after a pause.
	MayCoordinate func() bool
}

// DefaultConfig returns the production timings.
func DefaultConfig() Config {
	return Config{
		CheckEvery:      100 * time.Millisecond,
		CheckTimeout:    150 * time.Millisecond,
		Misses:          2,
		OKTimeout:       200 * time.Millisecond,
		AnnounceTimeout: time.Second,
		SilentLimit:     3,
		PassOverFor:     time.Minute,
		NewMemberGrace:  5 * time.Second,
	}
}

// Node is one server's view of the election.
type Node struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex // guards the fields below
	members []Member
	current Announcement // zero Coordinator while unknown
	epoch   uint64       // newest epoch seen
	misses  int
	// outranked is when an election last started because a member
	// outranks the coordinator.
	outranked time.Time
	// outranking is the member named by the last "higher rank available"
	// log line, or "" while no member outranks the coordinator. The list
	// is refreshed several times a second, so the line is logged once per
	// change.
	outranking string
	// minority is set while the last majority check reached no majority
	// of the members.
	minority bool
	// indirect is the accepted coordinator while it does not reply to this
	// node's pings but replies to other members' (a cut link), and zero
	// otherwise.
	indirect Announcement
	// silent counts, per member name, the elections in a row in which the
	// member replied OK and no announcement followed.
	silent map[string]int
	// passedOver holds the members left out of elections after
	// SilentLimit silent OKs, by name.
	passedOver map[string]passOver
	// seen records, per member name and address, when this node first
	// listed it and whether it has ever replied to a majority check.
	seen map[string]*memberSeen

	trigger   chan struct{} // capacity 1: coalesces election requests
	announced chan struct{} // capacity 1: wakes a candidate waiting for a winner
	// elected is closed, and replaced under mu, whenever a coordinator
	// is accepted, to wake WaitCoordinator.
	elected chan struct{}
	// settled is open while this node's announcement as the new
	// coordinator is on its way, and closed once the members have replied
	// or their wait timed out. Guarded by mu.
	settled chan struct{}
}

// New returns a Node; Run starts it.
func New(cfg Config) *Node {
	defaults := DefaultConfig()
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = defaults.CheckEvery
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = defaults.CheckTimeout
	}
	if cfg.Misses <= 0 {
		cfg.Misses = defaults.Misses
	}
	if cfg.OKTimeout <= 0 {
		cfg.OKTimeout = defaults.OKTimeout
	}
	if cfg.AnnounceTimeout <= 0 {
		cfg.AnnounceTimeout = defaults.AnnounceTimeout
	}
	if cfg.SilentLimit <= 0 {
		cfg.SilentLimit = defaults.SilentLimit
	}
	if cfg.PassOverFor <= 0 {
		cfg.PassOverFor = defaults.PassOverFor
	}
	if cfg.NewMemberGrace <= 0 {
		cfg.NewMemberGrace = defaults.NewMemberGrace
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Node{
		cfg:        cfg,
		log:        cfg.Log,
		members:    []Member{cfg.Self},
		silent:     make(map[string]int),
		passedOver: make(map[string]passOver),
		seen:       make(map[string]*memberSeen),
		trigger:    make(chan struct{}, 1),
		announced:  make(chan struct{}, 1),
		elected:    make(chan struct{}),
		settled:    closedChan(),
	}
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// Coordinator returns the accepted coordinator, if any.
func (n *Node) Coordinator() (Announcement, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.current, n.current.Coordinator != ""
}

// WaitCoordinator returns the accepted coordinator. While an election
// runs and none is accepted, it waits for one until ctx is done.
func (n *Node) WaitCoordinator(ctx context.Context) (Announcement, bool) {
	return n.WaitCoordinatorExcept(ctx, Announcement{})
}

// WaitCoordinatorExcept is WaitCoordinator that also waits while the
// accepted coordinator is failed, the same coordinator at the same epoch.
func (n *Node) WaitCoordinatorExcept(ctx context.Context, failed Announcement) (Announcement, bool) {
	for {
		n.mu.Lock()
		current, elected := n.current, n.elected
		n.mu.Unlock()
		if current.Coordinator != "" && !sameCoordinator(current, failed) {
			return current, true
		}
		select {
		case <-ctx.Done():
			return Announcement{}, false
		case <-elected:
		}
	}
}

// acceptLocked records a as the accepted coordinator and wakes
// WaitCoordinator. The caller holds mu.
func (n *Node) acceptLocked(a Announcement) {
	n.current, n.misses = a, 0
	close(n.elected)
	n.elected = make(chan struct{})
}

func sameCoordinator(a, b Announcement) bool {
	return a.Coordinator == b.Coordinator && a.Epoch == b.Epoch
}

// IsCoordinator reports whether this node may act as coordinator: it is
// the accepted coordinator, at the newest epoch it has seen, and
// MayCoordinate allows it. A node that has seen a newer epoch was
// replaced while it could not tell, as during a pause, and coordinates
// again only after it wins a new election.
func (n *Node) IsCoordinator() bool {
	n.mu.Lock()
	current, epoch, settled := n.current, n.epoch, n.settled
	n.mu.Unlock()
	select {
	case <-settled:
	default:
		return false
	}
	return current.Coordinator == n.cfg.Self.Name && current.Epoch == epoch && n.mayCoordinate()
}

// Coordinating is IsCoordinator for a decision that only the coordinator
// may take, such as a channel name. A node that has just won waits until
// the members have replied to its announcement. A coordinator it replaces
// replies only after the decisions it has in flight, so no name is
// decided by both.
func (n *Node) Coordinating(ctx context.Context) bool {
	n.mu.Lock()
	settled := n.settled
	n.mu.Unlock()
	select {
	case <-settled:
	case <-ctx.Done():
		return false
	}
	return n.IsCoordinator()
}

// Indirect reports whether the accepted coordinator replies to other
// members and not to this node, as when only the link between the two is cut. A
// request that this node would send the coordinator then fails at once.
func (n *Node) Indirect() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.indirect.Coordinator != "" && sameCoordinator(n.current, n.indirect)
}

// Minority reports whether the last majority check of this node reached
// no majority of the members: it is likely on the minority side of a
// partition, where no coordinator can be elected.
func (n *Node) Minority() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.minority
}

func (n *Node) mayCoordinate() bool {
	return n.cfg.MayCoordinate == nil || n.cfg.MayCoordinate()
}

// Drop clears the accepted coordinator and requests an election, if the
// accepted coordinator is still failed. A server calls it when the
// coordinator did not reply to a request, so that the election starts
// before the pings miss, and when it finds it was paused while it
// coordinated.
func (n *Node) Drop(failed Announcement) {
	n.mu.Lock()
	drop := failed.Coordinator != "" && sameCoordinator(n.current, failed)
	if drop {
		n.current, n.misses = Announcement{}, 0
	}
	n.mu.Unlock()
	if drop {
		n.log.Info("coordinator dropped", "coordinator", failed.Coordinator, "epoch", failed.Epoch)
		n.Trigger()
	}
}

// Members returns the current members, this node included.
func (n *Node) Members() []Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Member(nil), n.members...)
}

// SetMembers replaces the available servers. Learning of a server that
// outranks the coordinator starts an election, as Bully prescribes for a
// server that returns.
func (n *Node) SetMembers(members []Member) {
	n.mu.Lock()
	list := []Member{n.cfg.Self}
	for _, m := range members {
		if m.Name != n.cfg.Self.Name {
			list = append(list, m)
		}
	}
	n.members = list
	n.pruneSeenLocked()
	var outranking string
	if n.current.Coordinator != "" {
		for _, m := range list {
			if m.Rank > n.current.Rank && m.Name != n.current.Coordinator && !n.passedOverLocked(m) {
				outranking = m.Name
			}
		}
	}
	// The list is refreshed several times a second; one election per
	// AnnounceTimeout is enough to let the higher rank take over.
	elect := outranking != "" && time.Since(n.outranked) > n.cfg.AnnounceTimeout
	if elect {
		n.outranked = time.Now()
	}
	changed := outranking != n.outranking
	if elect || outranking == "" {
		n.outranking = outranking
	}
	coordinator := n.current.Coordinator
	n.mu.Unlock()
	if elect {
		level := slog.LevelDebug
		if changed {
			level = slog.LevelInfo
		}
		n.log.Log(context.Background(), level, "higher rank available", "higher", outranking, "coordinator", coordinator)
		n.Trigger()
	}
}

// Trigger requests an election. Requests made while one is pending
// merge into it.
func (n *Node) Trigger() {
	select {
	case n.trigger <- struct{}{}:
	default:
	}
}

// HandleElection notes a lower rank's election message: the caller
// replies OK, and this node runs its own election, as Bully prescribes.
// epoch is the newest the sender has seen (0 from other implementations);
// a node that just restarted learns from it to announce a newer one. A
// coordinator with no higher rank alive re-sends its announcement to the
// members instead of announcing again, because nothing changed.
//
// from is the sender, with a zero Name when the message does not carry
// it. The sender replaces its entry in the members, or is added, until
// the next SetMembers, so that the announcement or confirmation reaches a
// server that restarted before the reference lists it again.
func (n *Node) HandleElection(epoch uint64, from Member) {
	n.mu.Lock()
	if epoch > n.epoch {
		n.epoch = epoch
	}
	if from.Name != "" && from.Addr != "" && from.Name != n.cfg.Self.Name {
		i := slices.IndexFunc(n.members, func(m Member) bool { return m.Name == from.Name })
		if i < 0 {
			n.members = append(n.members, from)
		} else {
			n.members[i] = from
		}
	}
	n.mu.Unlock()
	n.Trigger()
}

// ObserveEpoch raises the newest epoch seen to epoch, so that this
// node's next announcement outranks it. A server that restarts learns the
// cluster's epoch this way before its first election.
func (n *Node) ObserveEpoch(epoch uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.epoch = max(n.epoch, epoch)
}

// Epoch returns the newest epoch this node has seen.
func (n *Node) Epoch() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.epoch
}

// HandleAnnouncement applies a coordinator announcement. A newer epoch
// wins, and at the same epoch the higher rank. An announcement without an
// epoch, as other implementations send, counts as the current epoch. A
// lower rank claiming to coordinate is bullied with a new election.
func (n *Node) HandleAnnouncement(a Announcement) {
	n.mu.Lock()
	if a.Epoch == 0 {
		a.Epoch = n.epoch
		if a.Rank == 0 {
			a.Rank = n.rankOfLocked(a.Coordinator)
		}
	}
	// The member announces after all, so its OKs count again.
	delete(n.silent, a.Coordinator)
	delete(n.passedOver, a.Coordinator)

	current := n.current
	stale := a.Epoch < n.epoch || (a.Epoch == current.Epoch && a.Rank < current.Rank)
	same := a.Coordinator == current.Coordinator && a.Epoch == current.Epoch
	bully := a.Rank < n.cfg.Self.Rank
	if a.Epoch > n.epoch {
		n.epoch = a.Epoch
	}
	if same {
		// A coordinator confirming itself ends an election that got its
		// OK, although nothing changed.
		n.misses = 0
		n.mu.Unlock()
		n.signalAnnounced()
		return
	}
	if stale || bully {
		n.mu.Unlock()
		if bully {
			n.log.Info("lower rank claims coordinator", "claimant", a.Coordinator, "claimant_rank", a.Rank, "epoch", a.Epoch)
			n.Trigger()
		} else if stale {
			n.log.Debug("stale announcement ignored", "coordinator", a.Coordinator, "epoch", a.Epoch)
		}
		return
	}
	n.acceptLocked(a)
	n.mu.Unlock()

	n.log.Info("coordinator changed", "coordinator", a.Coordinator, "coordinator_rank", a.Rank, "epoch", a.Epoch)
	n.signalAnnounced()
	if n.cfg.OnChange != nil {
		n.cfg.OnChange(a)
	}
}

// signalAnnounced wakes a candidate waiting for the winner.
func (n *Node) signalAnnounced() {
	select {
	case n.announced <- struct{}{}:
	default:
	}
}

// passOver is a member left out of elections until a time, as long as it
// keeps the address it had then.
type passOver struct {
	until time.Time
	addr  string
}

// passedOverLocked reports whether m is left out of elections now. A
// member that restarted at another address, as after a fix, counts again
// at once. The caller holds mu.
func (n *Node) passedOverLocked(m Member) bool {
	p, ok := n.passedOver[m.Name]
	if ok && (time.Now().After(p.until) || p.addr != m.Addr) {
		delete(n.passedOver, m.Name)
		return false
	}
	return ok
}

// noteSilent counts, after an election in which okFrom replied OK, the
// members of okFrom that outrank the accepted coordinator, or all of them
// while none is accepted: they took the election over and did not win it.
// It passes over the members that reach SilentLimit.
func (n *Node) noteSilent(okFrom []Member) {
	n.mu.Lock()
	var passed []Member
	for _, m := range okFrom {
		if n.current.Coordinator != "" && m.Rank <= n.current.Rank {
			delete(n.silent, m.Name)
			continue
		}
		n.silent[m.Name]++
		if n.silent[m.Name] >= n.cfg.SilentLimit {
			delete(n.silent, m.Name)
			n.passedOver[m.Name] = passOver{until: time.Now().Add(n.cfg.PassOverFor), addr: m.Addr}
			passed = append(passed, m)
		}
	}
	n.mu.Unlock()

	for _, m := range passed {
		n.log.Warn("higher rank replies ok but never announces, passing over it", "member", m.Name, "member_rank", m.Rank, "elections", n.cfg.SilentLimit, "for", n.cfg.PassOverFor)
	}
}

func (n *Node) rankOfLocked(name string) int64 {
	for _, m := range n.members {
		if m.Name == name {
			return m.Rank
		}
	}
	return 0
}

// memberSeen records one member's history as this node saw it.
type memberSeen struct {
	first   time.Time // when this node first listed it
	replied bool      // it has replied to a majority check
}

func seenKey(m Member) string { return m.Name + "\x00" + m.Addr }

// seenLocked returns the record of m, created as first listed now. The
// caller holds mu.
func (n *Node) seenLocked(m Member, now time.Time) *memberSeen {
	key := seenKey(m)
	rec, ok := n.seen[key]
	if !ok {
		rec = &memberSeen{first: now}
		n.seen[key] = rec
	}
	return rec
}

// pruneSeenLocked drops the records of members no longer listed, and
// records the new ones. The caller holds mu.
func (n *Node) pruneSeenLocked() {
	now := time.Now()
	listed := make(map[string]bool, len(n.members))
	for _, m := range n.members {
		listed[seenKey(m)] = true
		n.seenLocked(m, now)
	}
	for key := range n.seen {
		if !listed[key] {
			delete(n.seen, key)
		}
	}
}
