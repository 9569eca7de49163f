package limit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time         { return c.t }
func (c *clock) add(d time.Duration)    { c.t = c.t.Add(d) }
func newClock() *clock                  { return &clock{t: time.Date(2026, 1, 2, 23, 0, 0, 0, time.UTC)} }
func (b *Buckets) at(c *clock) *Buckets { b.now = c.now; return b }

func TestBucketsRefill(t *testing.T) {
	c := newClock()
	b := NewBuckets(60, 2, 10).at(c) // one a second, two at once
	if first, second := b.Take("a"), b.Take("a"); first != 0 || second != 0 {
		t.Fatal("the burst was refused")
	}
	if d := b.Take("a"); d <= 0 || d > time.Second {
		t.Fatalf("third take waits %s, want (0, 1 s]", d)
	}
	c.add(time.Second)
	if b.Take("a") != 0 {
		t.Fatal("no token back after a second")
	}
	if b.Take("b") != 0 {
		t.Fatal("another key shares a's bucket")
	}
}

// TestBucketsFailClosed: a table full of live keys refuses new keys rather
// than forgetting limits; once old keys have refilled they make room.
func TestBucketsFailClosed(t *testing.T) {
	c := newClock()
	b := NewBuckets(60, 1, 3).at(c)
	for i := range 3 {
		if b.Take(fmt.Sprint(i)) != 0 {
			t.Fatalf("key %d refused", i)
		}
	}
	if d := b.Take("new"); d <= 0 {
		t.Fatal("a new key got through a full table: fails open")
	}
	if b.Take("0") <= 0 {
		t.Fatal("a tracked key's limit was lost")
	}
	c.add(2 * time.Second)
	if b.Take("new") != 0 || b.Len() > 3 {
		t.Fatalf("no room made after the keys refilled (%d keys)", b.Len())
	}
}

type fixed struct{ tokens int }

func (f fixed) Ask(context.Context, shifu.Question, func(string)) (shifu.Answer, error) {
	return shifu.Answer{Text: "ok", Usage: shifu.Usage{TotalTokens: f.tokens}}, nil
}

func TestAnswersRateAndBudget(t *testing.T) {
	c := newClock()
	a := NewAnswers(Config{UserPerMinute: 2, TenantPerMinute: 3, UserTokensPerDay: 1000, TenantTokensPerDay: 1500})
	a.now = c.now
	a.users.now, a.tenants.now = c.now, c.now
	ask := a.Guard(fixed{tokens: 600})
	q := func(user int64) error {
		_, err := ask.Ask(context.Background(), shifu.Question{Tenant: 1, UserID: user, Text: "?"}, nil)
		return err
	}
	if first, second := q(1), q(1); first != nil || second != nil {
		t.Fatal("user 1's first two answers were refused")
	}
	err := q(1)
	if !errors.Is(err, shifu.ErrTooMany) || shifu.RetryAfter(err) <= 0 {
		t.Fatalf("third answer in a minute: %v (retry after %s), want ErrTooMany with a wait", err, shifu.RetryAfter(err))
	}
	// 1,200 tokens spent: user 1 is over its 1,000 for today.
	c.add(time.Minute)
	err = q(1)
	if !errors.Is(err, shifu.ErrTooMany) || shifu.RetryAfter(err) != 59*time.Minute {
		t.Fatalf("over the user's budget: %v, retry after %s, want 59 min (to midnight UTC)", err, shifu.RetryAfter(err))
	}
	if err := q(2); err != nil { // tenant: 1,200 of 1,500
		t.Fatalf("user 2: %v", err)
	}
	if err := q(3); !errors.Is(err, shifu.ErrTooMany) { // tenant now over 1,500
		t.Fatalf("over the tenant's budget: %v", err)
	}
	c.add(time.Hour) // a new UTC day
	if err := q(1); err != nil {
		t.Fatalf("the next day: %v", err)
	}
}

func TestTenantRate(t *testing.T) {
	a := NewAnswers(Config{UserPerMinute: 100, TenantPerMinute: 2, UserTokensPerDay: 1e9, TenantTokensPerDay: 1e9})
	if a.Admit(7, 1) != nil || a.Admit(7, 2) != nil {
		t.Fatal("refused within the tenant's rate")
	}
	if err := a.Admit(7, 3); !errors.Is(err, shifu.ErrTooMany) {
		t.Fatalf("third answer of the tenant in a minute: %v", err)
	}
	if err := a.Admit(8, 3); err != nil {
		t.Fatalf("another tenant was limited: %v", err)
	}
}
