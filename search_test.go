package shifu

import (
	"math"
	"testing"
)

func TestBM25(t *testing.T) {
	for _, p := range []BM25{{K1: 0, B: 0.75, MaxDF: 1}, {K1: 1.2, B: 1.5, MaxDF: 1}, {K1: 1.2, B: -0.1, MaxDF: 1}, {K1: 1.2, B: 0.75}} {
		if p.Check() == nil {
			t.Errorf("Check(%+v) = nil, want an error", p)
		}
	}
	p := BM25{K1: 1.2, B: 0.75, MaxDF: 0.4}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	// A term in every chunk still weighs above 0 (the +1), a rarer one more.
	if all, one := IDF(100, 100), IDF(100, 1); all <= 0 || one <= all || math.Abs(one-math.Log(1+99.5/1.5)) > 1e-12 {
		t.Errorf("IDF(100, 100) = %g, IDF(100, 1) = %g", all, one)
	}
	// In a chunk of mean length one occurrence scores idf; more saturate
	// towards idf·(k1+1); a longer chunk scores less.
	if got := p.Score(2, 1, 10, 10); math.Abs(got-2) > 1e-12 {
		t.Errorf("Score(tf 1, mean length) = %g, want 2", got)
	}
	if many := p.Score(2, 100, 10, 10); many >= 2*2.2 || many <= p.Score(2, 2, 10, 10) {
		t.Errorf("Score(tf 100) = %g: not saturating below idf·(k1+1)", many)
	}
	if long := p.Score(2, 1, 40, 10); long >= 2 {
		t.Errorf("Score in a chunk 4x the mean length = %g, want below 2", long)
	}
}
