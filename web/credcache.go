package web

import (
	"sync"
	"time"
)

// credTTL is how long a resolved bearer token or session is believed without
// asking the database again. Every request used to cost two lookups and a
// write (the token's last use); under a crowd that is database time taken
// from the answers. The price: a token revoked, a user disabled or demoted,
// a password reset by another process (the CLI, another server) takes effect
// here within credTTL. The same changes made through this server's admin API,
// and a logout, take effect at once (they clear the cache).
const credTTL = 5 * time.Second

// credMax bounds the credentials remembered; past it the cache starts over
// (a crowd of distinct tokens costs lookups, not memory).
const credMax = 10_000

// credCache remembers who a credential hash belongs to for credTTL. Only
// successful lookups are kept: a bad token or a database error is asked
// again every time.
type credCache struct {
	now func() time.Time

	mu sync.Mutex
	m  map[string]credEntry
}

type credEntry struct {
	p   principal
	exp time.Time
}

func newCredCache() *credCache {
	return &credCache{now: time.Now, m: map[string]credEntry{}}
}

// get returns a copy of the principal for key, if it was resolved less than
// credTTL ago.
func (c *credCache) get(key string) (*principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil, false
	}
	if !c.now().Before(e.exp) {
		delete(c.m, key)
		return nil, false
	}
	p := e.p
	return &p, true
}

func (c *credCache) put(key string, p *principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.m) >= credMax {
		for k, e := range c.m {
			if !now.Before(e.exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= credMax {
			clear(c.m)
		}
	}
	c.m[key] = credEntry{p: *p, exp: now.Add(credTTL)}
}

// forget drops one credential (a session logged out).
func (c *credCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

// reset drops every credential: a token was revoked or a user's rights
// changed, and which cached entries that touches is not worth working out
// for so rare an event.
func (c *credCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

func tokenKey(hash []byte) string   { return "t" + string(hash) }
func sessionKey(hash []byte) string { return "s" + string(hash) }
