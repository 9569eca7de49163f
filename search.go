package shifu

import (
	"fmt"
	"math"
)

// Filter narrows a search. The store applies it inside the query that ranks,
// never after a LIMIT, so a narrow filter still returns a full page of hits.
type Filter struct {
	Documents []int64 // only these documents; empty: all
	Kind      DocKind // manual or note; "": both
	Equipment string  // documents tagged with this equipment; "": any
}

// BM25 holds the lexical ranking's parameters. Their values are the
// searcher's, measured there (retrieval.Defaults); the store takes them as
// given and refuses what cannot be a ranking (Check).
type BM25 struct {
	K1 float64 // term-frequency saturation; > 0
	B  float64 // length normalisation; 0 to 1
	// MaxDF drops query terms found in more than this fraction of the
	// tenant's live chunks (they rank nothing and cost the most postings);
	// > 0, 1 keeps every term.
	MaxDF float64
	// Context is the share of each neighbouring chunk's score (ord ± 1) a
	// chunk adds to its own; 0: none.
	Context float64
	// Unigram scales the weight of single Han character terms (the analyzer
	// indexes them beside gse's words): they rescue questions whose verb or
	// noun is one character, but a match on one says less than a word's.
	// 0 or negative: ignore them.
	Unigram float64
	// Backoff is the weight, in place of Unigram, of the characters a word
	// no chunk holds is searched by (SearchQuery.Backoff): they stand for a
	// whole word of the question. 0 or negative: no back-off.
	Backoff float64
}

// Check refuses parameters that cannot be a ranking.
func (p BM25) Check() error {
	if p.K1 <= 0 || p.B < 0 || p.B > 1 || p.MaxDF <= 0 {
		return fmt.Errorf("BM25 k1 %g, b %g, max df %g: k1 must be above 0, b from 0 to 1, max df above 0", p.K1, p.B, p.MaxDF)
	}
	return nil
}

// The BM25 formula has its one home here, beside its parameters, rather than
// in retrieval, which owns the ranking: the store sums it in Go over the
// packed posting lists it reads, so that one round trip returns only the top
// chunks, and retrieval weighs the question's words by the same IDF (heading
// boost, coverage, exact codes). Both import the root package; neither may
// import the other.

// IDF is the BM25 (Robertson-Spärck Jones, floored at 0 by the +1) inverse
// document frequency of a term found in df of n chunks.
func IDF(n, df int) float64 {
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}

// Score is the BM25 score of a term of weight idf found tf times in a chunk
// of dl terms, avgdl being the chunks' mean length.
func (p BM25) Score(idf float64, tf, dl int64, avgdl float64) float64 {
	return idf * float64(tf) * (p.K1 + 1) / (float64(tf) + p.K1*(1-p.B+p.B*float64(dl)/avgdl))
}

// TermStats is what BM25 needs to know about the tenant's live chunks.
type TermStats struct {
	N     int            // live chunks
	AvgDL float64        // their mean length in terms
	DF    map[string]int // chunks holding each query term; absent: none
}

// SearchQuery is one hybrid search: lexical terms and/or a query vector.
type SearchQuery struct {
	Terms []string
	// Weights, when not nil, holds a query weight for each of Terms (1: a
	// term of the question; less: a feedback expansion term).
	Weights []float64
	// Groups, when not nil, holds for each of Terms a structured-query group
	// (0: none; Pirkola, 1998: a word's translations): a group counts as one
	// term whose frequency in a chunk is the sum of its members' and whose
	// document frequency is the sum of theirs (at most N), weighted by its
	// largest member weight; members no chunk holds drop out of it.
	Groups []int
	// Sources, when not nil, names the word each group translates (group
	// g's at g-1); a group whose word no live chunk holds weighs Unknown
	// times its weight: the library names that thing only in the other
	// language, so the translation is the question's only way to it.
	Sources []string
	Unknown float64
	// Backoff maps a term to the single characters searched in its stead
	// when no live chunk holds it (a worker's word the manuals never use:
	// 删了, 占满), at its weight times BM25.Backoff.
	Backoff map[string][]string
	Vector  []float32
	Model   string
	Filter  Filter
	BM25    BM25
	// EfSearch > 0 sets the HNSW walk's breadth (hnsw.ef_search); used only
	// when the store's plan searches the index.
	EfSearch int
	LexicalK int // candidates from BM25
	VectorK  int // candidates from the vector index
}

// Candidates is the two ranked lists a hybrid search fuses.
type Candidates struct {
	Lexical []Hit
	Vector  []Hit
	Stats   TermStats
	// Matched holds, for each lexical hit, the query terms (the question's,
	// its synonyms' and back-off characters) its chunk holds.
	Matched map[int64][]string
}
