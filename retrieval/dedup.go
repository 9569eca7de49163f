package retrieval

import (
	"slices"
	"strings"
	"unicode"
)

// collapse drops chunks whose text is nearly the same as a better-ranked
// one's (a manual reproduced inside another, a warning repeated on every
// page), keeping the first keep survivors. fs must be sorted best first.
func collapse(fs []*fused, threshold float64, keep int) []*fused {
	if threshold >= 1 {
		if len(fs) > keep {
			fs = fs[:keep]
		}
		return fs
	}
	var out []*fused
	var sigs [][]uint64
	for _, f := range fs {
		sig := shingles(f.hit.Body())
		dup := false
		for _, o := range sigs {
			if jaccard(sig, o) >= threshold {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		out, sigs = append(out, f), append(sigs, sig)
		if len(out) == keep {
			break
		}
	}
	return out
}

// shingles hashes the text's overlapping word triples (Han characters count
// as words), lowercased, so layout and case do not matter. The hashes come
// sorted and distinct: sets compared by merging, without maps (collapse
// compares each candidate with every one kept, on every search).
func shingles(text string) []uint64 {
	var words []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.Is(unicode.Han, r):
			flush()
			words = append(words, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	var out []uint64
	for i := 0; i+3 <= len(words) || (i == 0 && len(words) > 0); i++ {
		h := uint64(fnvOffset)
		for _, w := range words[i:min(i+3, len(words))] {
			for j := 0; j < len(w); j++ {
				h = (h ^ uint64(w[j])) * fnvPrime
			}
			h *= fnvPrime // the 0 byte between words: h ^ 0 = h
		}
		out = append(out, h)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// FNV-1a, 64 bits.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// jaccard is |a ∩ b| / |a ∪ b| of two sorted, distinct sets.
func jaccard(a, b []uint64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	inter := 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			inter++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}
