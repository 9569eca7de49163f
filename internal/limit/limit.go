// Package limit bounds what one caller may cost: keyed token buckets (per
// address, user or tenant) that fail closed when full, and the answer limits
// built on them — requests per minute and model tokens per day, per user and
// per tenant — for the web chat, /v1 and the bots alike.
package limit

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/shifu-factory/shifu"
)

// Buckets are token buckets by key: each key may spend burst at once and gets
// rate back per second. At most max keys are tracked; when a new key finds
// the table full of keys still in use it is refused (fail closed), so a spray
// of new keys can neither exhaust memory nor escape the limit.
type Buckets struct {
	rate  float64 // tokens per second
	burst float64
	max   int
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewBuckets returns buckets of burst tokens refilled at perMinute a minute,
// tracking at most max keys.
func NewBuckets(perMinute, burst, max int) *Buckets {
	return &Buckets{rate: float64(perMinute) / 60, burst: float64(max1(burst)), max: max1(max), now: time.Now, keys: map[string]*bucket{}}
}

func max1(n int) int { return max(n, 1) }

// Take spends one token of key. It returns 0 when allowed, otherwise how long
// until a token is back (for Retry-After).
func (b *Buckets) Take(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	k := b.keys[key]
	if k == nil {
		if len(b.keys) >= b.max && !b.sweep(now) {
			return time.Minute // full of live keys: refuse, never forget a limit
		}
		k = &bucket{tokens: b.burst, at: now}
		b.keys[key] = k
	}
	k.tokens = math.Min(b.burst, k.tokens+now.Sub(k.at).Seconds()*b.rate)
	k.at = now
	if k.tokens >= 1 {
		k.tokens--
		return 0
	}
	return time.Duration((1 - k.tokens) / b.rate * float64(time.Second))
}

// sweep forgets keys whose bucket has refilled (they are as new), reporting
// whether room was made. It runs only when the table is full, so its cost is
// spread over the inserts that filled it.
func (b *Buckets) sweep(now time.Time) bool {
	for key, k := range b.keys {
		if k.tokens+now.Sub(k.at).Seconds()*b.rate >= b.burst {
			delete(b.keys, key)
		}
	}
	return len(b.keys) < b.max
}

// Len is how many keys are tracked.
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.keys)
}

// Config are the answer limits (defaults in internal/config). Each must be
// positive.
type Config struct {
	UserPerMinute      int   // answers a user may ask for per minute (burst: the same number)
	TenantPerMinute    int   // answers a tenant may ask for per minute
	UserTokensPerDay   int64 // model tokens a user may spend per UTC day
	TenantTokensPerDay int64 // model tokens a tenant may spend per UTC day
}

// maxKeys bounds the users and tenants tracked at once.
const maxKeys = 100_000

// Answers limits the answers asked for, per user and per tenant. The counts
// live in this process (a restart forgets today's spending; several servers
// each allow the limit).
type Answers struct {
	c       Config
	users   *Buckets
	tenants *Buckets
	now     func() time.Time

	mu    sync.Mutex
	day   string // UTC date the spending below is for
	spent map[int64]int64
	ten   map[int64]int64
}

// NewAnswers returns the limits of c.
func NewAnswers(c Config) *Answers {
	return &Answers{c: c, users: NewBuckets(c.UserPerMinute, c.UserPerMinute, maxKeys),
		tenants: NewBuckets(c.TenantPerMinute, c.TenantPerMinute, maxKeys), now: time.Now,
		spent: map[int64]int64{}, ten: map[int64]int64{}}
}

// Admit lets one answer for user of tenant through or returns an ErrTooMany
// error carrying how long to wait.
func (a *Answers) Admit(tenant, user int64) error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	a.rollover()
	userSpent, tenantSpent := a.spent[user], a.ten[tenant]
	a.mu.Unlock()
	untilMidnight := a.untilMidnight()
	switch {
	case tenantSpent >= a.c.TenantTokensPerDay:
		return shifu.TooMany(untilMidnight, "your organisation has used today's %d model tokens; answering resumes at midnight UTC", a.c.TenantTokensPerDay)
	case user > 0 && userSpent >= a.c.UserTokensPerDay:
		return shifu.TooMany(untilMidnight, "you have used today's %d model tokens; answering resumes at midnight UTC", a.c.UserTokensPerDay)
	}
	if user > 0 {
		if d := a.users.Take(fmt.Sprint(tenant, "/", user)); d > 0 {
			return shifu.TooMany(d, "too many questions: at most %d a minute per person; try again in %s", a.c.UserPerMinute, seconds(d))
		}
	}
	if d := a.tenants.Take(fmt.Sprint(tenant)); d > 0 {
		return shifu.TooMany(d, "too many questions from your organisation: at most %d a minute; try again in %s", a.c.TenantPerMinute, seconds(d))
	}
	return nil
}

// Spend records the model tokens one answer took.
func (a *Answers) Spend(tenant, user int64, tokens int) {
	if a == nil || tokens <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rollover()
	if user > 0 {
		a.spent[user] += int64(tokens)
	}
	a.ten[tenant] += int64(tokens)
}

func (a *Answers) rollover() {
	if d := a.now().UTC().Format(time.DateOnly); d != a.day {
		a.day, a.spent, a.ten = d, map[int64]int64{}, map[int64]int64{}
	}
}

func (a *Answers) untilMidnight() time.Duration {
	now := a.now().UTC()
	return now.Truncate(24 * time.Hour).Add(24 * time.Hour).Sub(now)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%d s", int(math.Ceil(d.Seconds()))) }

// Asker answers questions (answer, or anything in front of it).
type Asker interface {
	Ask(ctx context.Context, q shifu.Question, onDelta func(string)) (shifu.Answer, error)
}

// Guard admits each question through a and records what its answer cost:
// the limits for callers, such as the bots, that have no earlier place to
// refuse.
func (a *Answers) Guard(next Asker) Asker { return guarded{a: a, next: next, admit: true} }

// Count only records what answers cost, for callers (the web app) that
// Admit before they start streaming.
func (a *Answers) Count(next Asker) Asker { return guarded{a: a, next: next} }

type guarded struct {
	a     *Answers
	next  Asker
	admit bool
}

func (g guarded) Ask(ctx context.Context, q shifu.Question, onDelta func(string)) (shifu.Answer, error) {
	if g.admit {
		if err := g.a.Admit(q.Tenant, q.UserID); err != nil {
			return shifu.Answer{}, err
		}
	}
	ans, err := g.next.Ask(ctx, q, onDelta)
	g.a.Spend(q.Tenant, q.UserID, ans.Usage.TotalTokens)
	return ans, err
}
