package backend

import "sync"

// enrolCacheSize bounds the enrolment cache: about 100 bytes an entry.
const enrolCacheSize = 1 << 16

// enrolCache keeps recently used enrolments (key id → payer and sealed
// seed) so that verifying a code needs no database read. An entry never
// goes stale in a way that matters: key ids are never reused and a key id's
// seed never changes; an enrolment revoked since is refused by the writer,
// which reads the current enrolment inside the payment's transaction.
// Seeds stay sealed here, as on disk; each check opens one and clears it.
type enrolCache struct {
	mu      sync.RWMutex
	byKey   map[int64]enrolEntry
	byPayer map[string]int64 // payer → cached key id, to drop it on re-enrolment
	max     int
}

type enrolEntry struct {
	payer string
	box   []byte
}

func newEnrolCache(max int) *enrolCache {
	return &enrolCache{byKey: map[int64]enrolEntry{}, byPayer: map[string]int64{}, max: max}
}

func (c *enrolCache) get(key int64) (enrolEntry, bool) {
	c.mu.RLock()
	e, ok := c.byKey[key]
	c.mu.RUnlock()
	return e, ok
}

// put adds an entry, dropping an arbitrary one when full.
func (c *enrolCache) put(key int64, e enrolEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; !ok && len(c.byKey) >= c.max {
		for k, old := range c.byKey {
			c.dropLocked(k, old.payer)
			break
		}
	}
	if prev, ok := c.byPayer[e.payer]; ok && prev != key {
		delete(c.byKey, prev)
	}
	c.byKey[key] = e
	c.byPayer[e.payer] = key
}

// dropPayer forgets a payer's cached enrolment (after it was revoked).
func (c *enrolCache) dropPayer(payer string) {
	c.mu.Lock()
	if k, ok := c.byPayer[payer]; ok {
		c.dropLocked(k, payer)
	}
	c.mu.Unlock()
}

func (c *enrolCache) dropLocked(key int64, payer string) {
	delete(c.byKey, key)
	if c.byPayer[payer] == key {
		delete(c.byPayer, payer)
	}
}

func (c *enrolCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byKey)
}
