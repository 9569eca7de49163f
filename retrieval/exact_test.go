package retrieval

import (
	"context"
	"testing"
)

func TestIsCode(t *testing.T) {
	for w, want := range map[string]bool{
		"G64": true, "E-104": true, "MIN_LIMIT": true, "tool.tbl": true, "PWM": true,
		"120": true, "1021": true, "2.9": true, // a number of two digits or more is as specific as a code
		"7": false, "spindle": false, "Spindle": false, "A": false,
	} {
		if got := isCode(w); got != want {
			t.Errorf("isCode(%q) = %v, want %v", w, got, want)
		}
	}
}

// filler are passages on other things, so the question's words are not in
// most chunks (BM25 skips those, see BM25.MaxDF).
var filler = []string{
	"coolant: top up to the max mark every week",
	"lubrication: check the way oil level every shift",
	"turret: clear alarm e-305 and jog the turret home",
	"homing: each joint seeks its home switch in turn",
	"estop: the emergency stop chain opens the main contactor",
	"probe: touch off the tool length with the tool setter",
}

// firstHit checks that question finds want first among passages and filler.
func firstHit(t *testing.T, passages []string, question, want string) {
	t.Helper()
	db, tenant := library(t, append(passages, filler...))
	s := New(db, words{}, nil, Options{})
	r, err := s.Retrieve(context.Background(), tenant, Query{Text: question, K: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Hits) == 0 || r.Hits[0].Text != want {
		t.Fatalf("hits %v, want %q first", r.Hits, want)
	}
}

// TestExactNumberWins: the number in a question picks the passage that holds
// it over one that repeats the question's words (and "limit") without it.
func TestExactNumberWins(t *testing.T) {
	answer := "feed override slider: its largest value is 120 percent unless the ini file sets another limit"
	firstHit(t, []string{
		"feed override: the feed override slider scales the feed rate; the slider has no hard limit, drag the feed override slider",
		answer,
		"spindle override slider: 50 to 150 percent",
		"jog speed slider sets the jog rate",
	}, "feed override slider stops at 120 is that a hard limit", answer)
}

// TestExactCodeNeedsTheQuestion: a file name the question mentions in
// passing does not lift the passages that name it over the one that answers
// the rest of the question (the exact boost scales with coverage).
func TestExactCodeNeedsTheQuestion(t *testing.T) {
	answer := "g10 l0 reloads the tool table"
	firstHit(t, []string{
		"tool table: tool.tbl is the tool table file, one line per tool; the tool table is read at start",
		answer,
		"tool.tbl example: t1 p1 d0.125 z+0.511 ;1/8 end mill",
		"spindle override slider: 50 to 150 percent",
	}, "after editing tool.tbl which code reloads the tool table", answer)
}
