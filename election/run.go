package election

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Run elects at start and then watches the coordinator until ctx is done.
// Elections, pings and announcements all happen in this goroutine, which
// is what keeps a burst of failures from starting a burst of elections.
func (n *Node) Run(ctx context.Context) {
	n.Trigger()
	ticker := time.NewTicker(n.cfg.CheckEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.trigger:
			n.elect(ctx)
		case <-ticker.C:
			n.check(ctx)
		}
	}
}

// check pings the coordinator and starts an election after Misses
// consecutive failures.
func (n *Node) check(ctx context.Context) {
	n.mu.Lock()
	current := n.current
	target := Member{Name: current.Coordinator, Rank: current.Rank, Addr: current.Addr}
	for _, m := range n.members {
		if m.Name == current.Coordinator {
			target = m
		}
	}
	n.mu.Unlock()

	switch {
	case current.Coordinator == "":
		n.elect(ctx)
		return
	case current.Coordinator == n.cfg.Self.Name:
		n.checkMajority(ctx, current)
		return
	}

	// A coordinator that the reference no longer lists and whose address
	// is unknown counts as a failed ping: it stopped sending heartbeats.
	alive := false
	if target.Addr != "" {
		pingCtx, cancel := context.WithTimeout(ctx, n.cfg.CheckTimeout)
		alive = n.cfg.Transport.Ping(pingCtx, target)
		cancel()
	}

	// Before the miss that would start an election, other members are
	// asked to ping the coordinator. When only the link between this node
	// and the coordinator is cut, both ends still reach a majority through
	// a third server: this node would win and the coordinator would bully
	// it back, twice a second until the link returns.
	switch {
	case alive:
		n.noteIndirect(current, false)
	case target.Addr != "" && n.lastMiss(current):
		alive, _ = n.reachedThroughOthers(ctx, target)
		n.noteIndirect(current, alive)
	}
	if n.recordCheck(current, alive) {
		n.log.Warn("coordinator unreachable", "coordinator", current.Coordinator, "epoch", current.Epoch)
		n.elect(ctx)
	}
}

// lastMiss reports whether one more failed check of current would clear it.
func (n *Node) lastMiss(current Announcement) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return sameCoordinator(n.current, current) && n.misses+1 >= n.cfg.Misses
}

// noteIndirect records whether coordinator current is reachable only
// through other members, and logs each change.
func (n *Node) noteIndirect(current Announcement, indirect bool) {
	n.mu.Lock()
	was := n.indirect.Coordinator != "" && sameCoordinator(n.indirect, current)
	switch {
	case indirect:
		n.indirect = current
	case was:
		n.indirect = Announcement{}
	}
	n.mu.Unlock()

	switch {
	case indirect && !was:
		n.log.Warn("coordinator reachable only through other servers", "coordinator", current.Coordinator, "epoch", current.Epoch)
	case !indirect && was:
		n.log.Info("coordinator reachable directly again", "coordinator", current.Coordinator, "epoch", current.Epoch)
	}
}

// maxRelays bounds the members asked to ping a member on this node's
// behalf. Each costs a request, and three are enough for
// the usual cluster sizes.
const maxRelays = 3

// relayAnswer is one relay's reply to Reach.
type relayAnswer struct {
	reached bool
	known   Announcement // the relay's coordinator
}

// reachedThroughOthers requests up to maxRelays other members to ping target
// and reports whether one of them reached it, with that relay's
// coordinator. It returns at the first yes. A relay pings with its own
// CheckTimeout, so the wait for the others is bounded by twice that.
func (n *Node) reachedThroughOthers(ctx context.Context, target Member) (bool, Announcement) {
	var relays []Member
	for _, m := range n.Members() {
		if m.Name != n.cfg.Self.Name && m.Name != target.Name && m.Addr != "" && len(relays) < maxRelays {
			relays = append(relays, m)
		}
	}
	if len(relays) == 0 {
		return false, Announcement{}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*n.cfg.CheckTimeout)
	defer cancel()
	answers := make(chan relayAnswer, len(relays))
	for _, via := range relays {
		go func() {
			reached, known := n.cfg.Transport.Reach(ctx, via, target)
			answers <- relayAnswer{reached, known}
		}()
	}
	for range relays {
		if a := <-answers; a.reached {
			return true, a.known
		}
	}
	return false, Announcement{}
}

// checkMajority makes this node step down as coordinator after Misses
// checks in a row in which it reached no majority of the members. It is
// then on the minority side of a partition, and the majority elects a
// coordinator of its own: two coordinators would decide a channel name
// twice.
func (n *Node) checkMajority(ctx context.Context, current Announcement) {
	if n.recordCheck(current, n.majorityReachable(ctx, n.Members())) {
		n.log.Warn("coordinator stepped down, no majority of servers reachable", "epoch", current.Epoch, "members", len(n.Members()))
	}
}

// recordCheck counts a failed check of the coordinator current, and
// clears the count after one that passed. It reports whether this check
// was the Misses-th failure in a row, which clears the coordinator. A
// check of a coordinator that has changed meanwhile counts for nothing.
func (n *Node) recordCheck(current Announcement, passed bool) (lost bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if passed || !sameCoordinator(n.current, current) {
		n.misses = 0
		return false
	}
	n.misses++
	if n.misses < n.cfg.Misses {
		return false
	}
	n.current = Announcement{}
	n.misses = 0
	return true
}

// majorityReachable pings every other member and reports whether this
// node and the members that replied are more than half of the members. A
// member without an address cannot be pinged and counts in neither part,
// and neither does one that has never replied while it is listed for less
// than NewMemberGrace. A killed server counts until the reference drops
// it: a refused connection may come from a firewall as well as from a
// dead process.
func (n *Node) majorityReachable(ctx context.Context, members []Member) bool {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.CheckTimeout)
	defer cancel()
	var mu sync.Mutex
	reached, counted := 1, 1 // this node
	var wg sync.WaitGroup
	for _, m := range members {
		if m.Name == n.cfg.Self.Name || m.Addr == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			replied := n.cfg.Transport.Ping(ctx, m)
			counts := n.noteReply(m, replied)
			mu.Lock()
			defer mu.Unlock()
			if counts {
				counted++
			}
			if replied {
				reached++
			}
		}()
	}
	wg.Wait()
	majority := 2*reached > counted

	// One line per change, because the checks run ten times a second.
	n.mu.Lock()
	changed := n.minority == majority
	n.minority = !majority
	n.mu.Unlock()
	switch {
	case changed && !majority:
		n.log.Warn("no majority of servers reachable, not coordinating", "reached", reached, "counted", counted)
	case changed:
		n.log.Info("majority of servers reachable again", "reached", reached, "counted", counted)
		// Alone, the node regained the majority because the reference
		// dropped the silent members, and no other side met it.
		if reached > 1 && n.cfg.OnMajorityRegained != nil {
			n.cfg.OnMajorityRegained()
		}
	}
	return majority
}

// noteReply records whether m replied to a majority check, and reports
// whether m counts among the members: it has replied once, or has been
// listed for NewMemberGrace.
func (n *Node) noteReply(m Member, replied bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	rec := n.seenLocked(m, time.Now())
	rec.replied = rec.replied || replied
	return rec.replied || time.Since(rec.first) >= n.cfg.NewMemberGrace
}

// elect runs one Bully election: it sends election to every higher rank
// and, when none replies OK in time, wins.
func (n *Node) elect(ctx context.Context) {
	select {
	case <-n.announced:
	default:
	}
	// A node that may not coordinate sends no election message and does not
	// win. Its next check, CheckEvery later, elects again.
	if !n.mayCoordinate() {
		n.log.Debug("election deferred", "reason", "may not coordinate now")
		return
	}
	members := n.Members()
	higher := n.higherRanks(members)

	if len(higher) > 0 {
		n.log.Debug("election started", "higher", len(higher))
		poll := n.poll(ctx, higher)

		// A higher rank that declines is catching up and starts its own
		// election once it has caught up, which after a restart usually
		// takes a fraction of a second. Winning now would make this node
		// coordinator only until then, so it waits for that announcement
		// first, once per election. A node that already coordinates
		// changes nothing by winning again.
		if poll.best == Declined && !n.IsCoordinator() {
			n.log.Info("higher rank catching up, waiting for its announcement", "higher", poll.decliner, "wait_ms", n.cfg.AnnounceTimeout.Milliseconds())
			if n.awaitAnnouncement(ctx) || ctx.Err() != nil {
				return
			}
			poll = n.poll(ctx, higher)
		}

		if poll.best == OK {
			announced := n.awaitAnnouncement(ctx)
			if ctx.Err() != nil {
				return
			}
			// A coordinator behind a cut link confirms itself only to
			// the members it reaches, which replied OK here.
			if !announced && n.higherAliveElsewhere(ctx, poll.silent) {
				return
			}
			n.noteSilent(poll.okFrom)
			if !announced {
				n.log.Warn("no announcement after ok, electing again")
				n.Trigger()
			}
			return
		}

		// A higher rank that did not reply, but that others still reach,
		// is alive behind a cut link and would bully this node back. One
		// that declined is catching up, and this node wins meanwhile.
		if n.higherAliveElsewhere(ctx, poll.silent) {
			return
		}
	}
	n.win(ctx, members)
}

// higherAliveElsewhere reports whether some other member reaches one of
// higher, which did not reply to this node. When the relay accepts that
// member as coordinator, this node accepts it too, as if announced.
// Otherwise its own election, or the next check here, settles the
// coordinator.
func (n *Node) higherAliveElsewhere(ctx context.Context, higher []Member) bool {
	for _, m := range higher {
		if m.Addr == "" {
			continue
		}
		reached, known := n.reachedThroughOthers(ctx, m)
		if !reached {
			continue
		}
		adopted := known.Coordinator == m.Name
		n.log.Warn("higher rank reachable only through other servers, not winning", "higher", m.Name, "coordinator", known.Coordinator, "epoch", known.Epoch)
		if adopted {
			n.HandleAnnouncement(known)
			n.noteIndirect(known, true)
		}
		return true
	}
	return false
}

// higherRanks returns the members that outrank this node, but for those
// passed over after silent OKs (noteSilent). The member list
// lags the reference by up to half a heartbeat, so it may lack a
// coordinator that announced itself moments ago. That coordinator is asked
// too when it outranks this node, because a win without asking it would
// last only until it bullies this node back.
func (n *Node) higherRanks(members []Member) []Member {
	var higher []Member
	listed := false
	current, ok := n.Coordinator()
	for _, m := range members {
		if m.Rank > n.cfg.Self.Rank {
			higher = append(higher, m)
		}
		listed = listed || m.Name == current.Coordinator
	}
	if ok && !listed && current.Rank > n.cfg.Self.Rank && current.Addr != "" {
		higher = append(higher, Member{Name: current.Coordinator, Rank: current.Rank, Addr: current.Addr})
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.DeleteFunc(higher, n.passedOverLocked)
}

// awaitAnnouncement waits up to AnnounceTimeout for an announcement or a
// confirmation and reports whether one came.
func (n *Node) awaitAnnouncement(ctx context.Context) bool {
	timer := time.NewTimer(n.cfg.AnnounceTimeout)
	defer timer.Stop()
	select {
	case <-n.announced:
		return true
	case <-ctx.Done():
	case <-timer.C:
	}
	return false
}

// pollResult is the outcome of one round of election messages.
type pollResult struct {
	best     Reply    // OK from any member, else Declined, else NoReply
	decliner string   // one member that declined
	okFrom   []Member // the members that replied OK
	silent   []Member // the members that did not reply
}

// poll sends election to each member concurrently and collects their
// replies within OKTimeout.
func (n *Node) poll(ctx context.Context, higher []Member) pollResult {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.OKTimeout)
	defer cancel()
	epoch := n.Epoch()
	var mu sync.Mutex
	res := pollResult{best: NoReply}
	var wg sync.WaitGroup
	for _, m := range higher {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply := n.cfg.Transport.Elect(ctx, m, epoch)
			mu.Lock()
			defer mu.Unlock()
			switch reply {
			case OK:
				res.best = OK
				res.okFrom = append(res.okFrom, m)
			case Declined:
				if res.best == NoReply {
					res.best, res.decliner = Declined, m.Name
				}
			default:
				res.silent = append(res.silent, m)
			}
		}()
	}
	wg.Wait()
	return res
}

// win makes this node coordinator with a new epoch and announces it once.
// A node that already coordinates at the newest epoch only re-sends its
// announcement to the members.
func (n *Node) win(ctx context.Context, members []Member) {
	self := n.cfg.Self
	if !n.mayCoordinate() {
		n.log.Debug("election deferred", "reason", "may not coordinate now")
		return
	}
	n.mu.Lock()
	if n.current.Coordinator == self.Name && n.current.Epoch == n.epoch {
		a := n.current
		n.mu.Unlock()
		n.tellAll(ctx, a, members)
		return
	}
	n.mu.Unlock()

	// A node cut off from most members by a partition would win every
	// election on its side, and its announcements, which still reach the
	// others through the proxy, would start an election there each time.
	if !n.majorityReachable(ctx, members) || !n.mayCoordinate() {
		return
	}

	n.mu.Lock()
	n.epoch++
	a := Announcement{Coordinator: self.Name, Rank: self.Rank, Epoch: n.epoch, Addr: self.Addr}
	n.acceptLocked(a)
	settled := make(chan struct{})
	n.settled = settled
	n.mu.Unlock()

	// Announce returns once every member has replied or timed out. Until
	// then this node does not coordinate (IsCoordinator), so a coordinator
	// it replaces can finish its decisions first.
	n.log.Info("coordinator elected", "coordinator", self.Name, "coordinator_rank", self.Rank, "epoch", a.Epoch)
	n.cfg.Transport.Announce(ctx, a, members)
	close(settled)
	if n.cfg.OnChange != nil {
		n.cfg.OnChange(a)
	}
}

func (n *Node) tellAll(ctx context.Context, a Announcement, members []Member) {
	var wg sync.WaitGroup
	for _, m := range members {
		if m.Name == n.cfg.Self.Name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.cfg.Transport.Tell(ctx, a, m)
		}()
	}
	wg.Wait()
}
