package store

import "sync"

// nameCache keeps the shown names that reads found in the file, so that
// the user and channel checks of every write need no read transaction.
// Under publish load those took about 3 % of a server's CPU. Names are
// never removed, but a commit may rename a key when an op lower in the
// total order names it (putLowest). That commit drops the key and moves
// the epoch on, so a read that began before it stores nothing.
type nameCache struct {
	mu      sync.Mutex
	epoch   uint64
	entries map[nameRef]string
}

// nameRef is a folded name in the users or the channels bucket.
type nameRef struct {
	channel bool
	key     string
}

// nameCacheMax bounds the entries, about 100 bytes each. A full cache
// starts over, which costs one read transaction per name.
const nameCacheMax = 1 << 16

func (c *nameCache) get(ref nameRef) (string, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	shown, ok := c.entries[ref]
	return shown, ok, c.epoch
}

// put stores what a read that began at epoch found, unless a commit
// renamed a key since.
func (c *nameCache) put(ref nameRef, shown string, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return
	}
	if c.entries == nil || len(c.entries) >= nameCacheMax {
		c.entries = make(map[nameRef]string)
	}
	c.entries[ref] = shown
}

// drop removes the keys that a commit renamed.
func (c *nameCache) drop(refs []nameRef) {
	if len(refs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for _, ref := range refs {
		delete(c.entries, ref)
	}
}
