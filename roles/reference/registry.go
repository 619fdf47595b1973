package reference

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"msgsys/proto"
	"msgsys/roles/common"
)

// Layout of the registration file, one bbolt file with two buckets:
//
//	servers  folded name -> JSON record {"name", "rank", "addr"}
//	meta     "schema" -> schema version in decimal
//
// A record is written before its rank is sent to anyone, and bbolt syncs
// the file on every commit, so a rank that a server has received survives
// a crash of the reference.
var (
	bucketServers = []byte("servers")
	bucketMeta    = []byte("meta")
	keySchema     = []byte("schema")
)

// schemaVersion changes whenever the layout of the file changes.
const schemaVersion = 1

// lockTimeout is how long New waits for bbolt's file lock, which another
// reference process on the same directory holds while it runs.
const lockTimeout = 2 * time.Second

// errRegistryFull is the error of touch for a new name when the registry
// holds maxNames names.
var errRegistryFull = errors.New("reference: registry full")

// ErrCorrupt is returned by New when the registration file holds a record
// that cannot be read or breaks the uniqueness of names or ranks.
var ErrCorrupt = errors.New("reference: corrupt registration file")

// record is a registration as stored: the name as first written, the rank,
// and the last server-to-server endpoint the server reported.
type record struct {
	Name string `json:"name"`
	Rank int64  `json:"rank"`
	Addr string `json:"addr,omitempty"`
}

// entry is a registration in memory, with the liveness the reference
// tracks since it started.
type entry struct {
	record
	lastSeen  time.Time // last heartbeat or rank request; zero if none since start
	available bool      // whether the latest log line reported the server available
	// once marks a name first registered in this run that has sent one
	// request only. Once it expires it leaves the registered servers at
	// once: no server ran behind it long enough to store anything, and
	// starting servers would otherwise wait for it for forgetAfter.
	once bool
}

// registry holds every registration in memory and writes each change to the
// bbolt file before it is visible to any request.
type registry struct {
	db *bolt.DB

	// maxNames is the maximum number of names touch registers. A file
	// written with a higher limit may hold more, and all of them load.
	maxNames int
	// started is when the reference started. registered counts a server
	// not seen since then as last seen at started.
	started time.Time

	// mu guards entries and maxRank. Writes to db happen under it too, so
	// two new names can never receive the same rank.
	mu      sync.Mutex
	entries map[string]*entry // by proto.FoldName of the name
	maxRank int64
}

// touchResult describes what a rank or heartbeat request changed.
type touchResult struct {
	server     proto.ServerInfo
	registered bool   // the name was new and got the next rank
	revived    bool   // the server was not available before this request
	oldAddr    string // the endpoint before the request, when it changed
	addrMoved  bool   // the request changed a stored endpoint
	rankKept   int64  // a requested rank that the known name did not take, or 0

	// removed is the forgotten server whose name a new name replaced in
	// a full registry, or nil.
	removed *proto.ServerInfo
}

// openRegistry opens or creates the bbolt file at path and loads every
// registration, for a reference that started at started and registers at
// most maxNames names.
func openRegistry(path string, maxNames int, started time.Time) (*registry, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, &common.StartError{
			Role: "reference", Context: "reference: create data directory", Failure: common.CreateFailed,
			Resource: common.DataDirectory, Target: dir, Err: err,
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, &common.StartError{
			Role: "reference", Context: "reference", Failure: common.Locked,
			Resource: common.DataDirectory, Target: dir, Holder: common.AnotherReference,
			Err: fmt.Errorf("%s is locked by another process, probably another reference on the same data directory", path),
		}
	}
	if err != nil {
		return nil, &common.StartError{
			Role: "reference", Context: "reference: open " + path,
			Resource: common.RegistrationFile, Target: path, Err: err,
		}
	}

	reg := &registry{db: db, maxNames: maxNames, started: started, entries: make(map[string]*entry)}
	if err := reg.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("reference: %s: %w", path, err)
	}
	return reg, nil
}

// load creates the buckets of a new file, checks the schema version, and
// reads every record into memory.
func (g *registry) load() error {
	err := g.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketServers); err != nil {
			return err
		}
		want := strconv.Itoa(schemaVersion)
		switch got := meta.Get(keySchema); {
		case got == nil:
			return meta.Put(keySchema, []byte(want))
		case string(got) != want:
			return fmt.Errorf("%w: schema version %q, want %q", ErrCorrupt, got, want)
		}
		return nil
	})
	if err != nil {
		return err
	}

	return g.db.View(func(tx *bolt.Tx) error {
		ranks := make(map[int64]string)
		return tx.Bucket(bucketServers).ForEach(func(key, value []byte) error {
			var rec record
			if err := json.Unmarshal(value, &rec); err != nil {
				return fmt.Errorf("%w: record %q: %w", ErrCorrupt, key, err)
			}
			name, err := proto.NormalizeName(rec.Name)
			if err != nil || name != rec.Name || proto.FoldName(name) != string(key) {
				return fmt.Errorf("%w: record %q has name %q", ErrCorrupt, key, rec.Name)
			}
			if rec.Rank <= 0 {
				return fmt.Errorf("%w: record %q has rank %d", ErrCorrupt, key, rec.Rank)
			}
			if owner, duplicate := ranks[rec.Rank]; duplicate {
				return fmt.Errorf("%w: rank %d belongs to both %q and %q", ErrCorrupt, rec.Rank, owner, rec.Name)
			}
			ranks[rec.Rank] = rec.Name
			g.entries[string(key)] = &entry{record: rec}
			g.maxRank = max(g.maxRank, rec.Rank)
			return nil
		})
	})
}

// touch records a rank or heartbeat request from the server name, a valid
// name in NFC. A new name is stored with the next rank, or with want when
// want is positive and no other name holds it. A known name moves to want
// under the same condition only when moveKnown is set, which a rank
// request does because an operator who starts a server with --rank means
// it. Otherwise a known name keeps its rank, and res.rankKept reports a
// want it did not take. A non-empty addr replaces the stored endpoint. The
// server is available from now on. A new name in a registry that holds
// maxNames names replaces the server forgotten longest ago, and gets an
// error wrapping errRegistryFull when no server is forgotten.
func (g *registry) touch(name, addr string, want int64, moveKnown bool, now time.Time) (touchResult, error) {
	key := proto.FoldName(name)

	g.mu.Lock()
	defer g.mu.Unlock()

	e, known := g.entries[key]
	var res touchResult
	if !known && len(g.entries) >= g.maxNames {
		removed, err := g.removeForgottenLocked(now)
		if err != nil {
			return res, err
		}
		if removed == nil {
			return res, fmt.Errorf("%w: %d names registered, new name %q rejected", errRegistryFull, len(g.entries), name)
		}
		res.removed = removed
	}
	if known && !moveKnown && want > 0 && want != e.Rank {
		res.rankKept = want
		want = 0
	}
	if want > 0 && g.rankHolderLocked(want) != "" && g.rankHolderLocked(want) != key {
		want = 0
	}
	switch {
	case known && want > 0 && want != e.Rank:
		rec := e.record
		rec.Rank = want
		if addr != "" {
			rec.Addr = addr
		}
		if err := g.put(key, rec); err != nil {
			return res, err
		}
		e.record = rec
		g.maxRank = max(g.maxRank, want)
		res.registered = true
	case !known:
		rank := g.maxRank + 1
		if want > 0 {
			rank = want
		}
		rec := record{Name: name, Rank: rank, Addr: addr}
		if err := g.put(key, rec); err != nil {
			return res, err
		}
		e = &entry{record: rec, once: true}
		g.entries[key] = e
		g.maxRank = max(g.maxRank, rec.Rank)
		res.registered = true
	case addr != "" && addr != e.Addr:
		rec := e.record
		rec.Addr = addr
		if err := g.put(key, rec); err != nil {
			return res, err
		}
		res.oldAddr, res.addrMoved = e.Addr, true
		e.record = rec
	}

	res.revived = !e.available
	e.once = e.once && !known
	e.lastSeen, e.available = now, true
	res.server = e.info()
	return res, nil
}

// removeForgottenLocked deletes the registration of the server last seen
// longest ago among those forgotten, as registered leaves them out, and
// returns it, or nil when no server is forgotten. Without it, names that
// came once and never again (a test run, a renamed container) would fill
// the registry for good, and only an operator could let a new server in.
func (g *registry) removeForgottenLocked(now time.Time) (*proto.ServerInfo, error) {
	var oldestKey string
	var oldest *entry
	for key, e := range g.entries {
		if !g.forgottenLocked(e, now) {
			continue
		}
		if oldest == nil || e.lastSeen.Before(oldest.lastSeen) ||
			e.lastSeen.Equal(oldest.lastSeen) && e.Rank < oldest.Rank {
			oldestKey, oldest = key, e
		}
	}
	if oldest == nil {
		return nil, nil
	}

	err := g.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketServers).Delete([]byte(oldestKey))
	})
	if err != nil {
		return nil, fmt.Errorf("reference: remove server %q: %w", oldest.Name, err)
	}
	delete(g.entries, oldestKey)
	info := oldest.info()
	return &info, nil
}

// forgottenLocked reports whether e is left out of the registered servers
// at now: not available, and last seen more than forgetAfter before now or
// seen only once. A server not seen since the reference started counts as
// seen at the start.
func (g *registry) forgottenLocked(e *entry, now time.Time) bool {
	lastSeen := e.lastSeen
	if lastSeen.IsZero() {
		lastSeen = g.started
	}
	return !e.available && (e.once || now.Sub(lastSeen) > forgetAfter)
}

// rankHolderLocked returns the folded name holding rank, or "".
func (g *registry) rankHolderLocked(rank int64) string {
	for key, e := range g.entries {
		if e.Rank == rank {
			return key
		}
	}
	return ""
}

// put writes one record and syncs the file.
func (g *registry) put(key string, rec record) error {
	value, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = g.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketServers).Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("reference: store server %q: %w", rec.Name, err)
	}
	return nil
}

// available returns the servers seen within expiry before now, sorted by
// rank.
func (g *registry) available(now time.Time, expiry time.Duration) []proto.ServerInfo {
	g.mu.Lock()
	defer g.mu.Unlock()

	list := make([]proto.ServerInfo, 0, len(g.entries))
	for _, e := range g.entries {
		if e.alive(now, expiry) {
			list = append(list, e.info())
		}
	}
	slices.SortFunc(list, func(a, b proto.ServerInfo) int { return cmp.Compare(a.Rank, b.Rank) })
	return list
}

// forgetAfter is how long after its last heartbeat a server leaves the
// registered servers of list replies. A starting server waits up to 3 s
// for the registered servers that are not available, so a server removed
// for good would delay every start. A server that this reference has not
// seen since it started counts as seen at the start: after a restart of
// the whole cluster it may hold writes that the others lack, and
// forgetAfter gives it time to come back. Either way the name keeps its
// rank, unless a new name needs its place in a full registry.
const forgetAfter = 10 * time.Minute

// registered returns the registered servers, available or not, sorted by
// rank, without those last seen more than forgetAfter before now.
func (g *registry) registered(now time.Time) []proto.ServerInfo {
	g.mu.Lock()
	defer g.mu.Unlock()

	list := make([]proto.ServerInfo, 0, len(g.entries))
	for _, e := range g.entries {
		if g.forgottenLocked(e, now) {
			continue
		}
		list = append(list, e.info())
	}
	slices.SortFunc(list, func(a, b proto.ServerInfo) int { return cmp.Compare(a.Rank, b.Rank) })
	return list
}

// expire marks unavailable every server that was available and has not
// been seen within expiry before now, and returns those servers by rank.
func (g *registry) expire(now time.Time, expiry time.Duration) []proto.ServerInfo {
	g.mu.Lock()
	defer g.mu.Unlock()

	var expired []proto.ServerInfo
	for _, e := range g.entries {
		if e.available && !e.alive(now, expiry) {
			e.available = false
			expired = append(expired, e.info())
		}
	}
	slices.SortFunc(expired, func(a, b proto.ServerInfo) int { return cmp.Compare(a.Rank, b.Rank) })
	return expired
}

// renew gives every available server a new expiry period from now, as if
// it had just sent a heartbeat, and returns how many it renewed.
func (g *registry) renew(now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, e := range g.entries {
		if e.available {
			e.lastSeen = now
			n++
		}
	}
	return n
}

// count returns the number of registered servers, available or not.
func (g *registry) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.entries)
}

func (g *registry) close() error {
	return g.db.Close()
}

// alive reports whether the server was seen within expiry before now.
func (e *entry) alive(now time.Time, expiry time.Duration) bool {
	return !e.lastSeen.IsZero() && now.Sub(e.lastSeen) < expiry
}

func (e *entry) info() proto.ServerInfo {
	return proto.ServerInfo{Name: e.Name, Rank: e.Rank, Addr: e.Addr}
}
