package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
)

// A resolved credential is believed for credTTL and then looked up again;
// callers get copies; the cache stays bounded; reset and forget drop at once.
func TestCredCache(t *testing.T) {
	c := newCredCache()
	clock := time.Unix(1_700_000_000, 0)
	c.now = func() time.Time { return clock }
	c.put(tokenKey([]byte("h")), &principal{User: shifu.User{ID: 7, Role: shifu.RoleWorker}, Bearer: true})
	p, ok := c.get(tokenKey([]byte("h")))
	if !ok || p.User.ID != 7 || !p.Bearer {
		t.Fatalf("fresh entry: %+v %v", p, ok)
	}
	p.User.Role = shifu.RoleAdmin // a handler's change must not reach other requests
	if q, _ := c.get(tokenKey([]byte("h"))); q.User.Role != shifu.RoleWorker {
		t.Fatalf("cached principal changed through a copy: %+v", q)
	}
	if _, ok := c.get(sessionKey([]byte("h"))); ok {
		t.Fatal("a session with a token's hash is found")
	}
	clock = clock.Add(credTTL)
	if _, ok := c.get(tokenKey([]byte("h"))); ok {
		t.Fatal("entry believed past credTTL")
	}

	c.put(sessionKey([]byte("a")), &principal{SessionID: 1})
	c.put(sessionKey([]byte("b")), &principal{SessionID: 2})
	c.forget(sessionKey([]byte("a")))
	if _, ok := c.get(sessionKey([]byte("a"))); ok {
		t.Fatal("forgotten session still cached")
	}
	c.reset()
	if _, ok := c.get(sessionKey([]byte("b"))); ok {
		t.Fatal("entry survived reset")
	}

	for i := range credMax + 10 {
		c.put(tokenKey(fmt.Appendf(nil, "%d", i)), &principal{})
	}
	if n := len(c.m); n > credMax {
		t.Fatalf("%d entries kept, bound %d", n, credMax)
	}
}
