package retrieval

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shifu-factory/shifu"
)

// exactToken is a code-like word of the question — an alarm or G/M code, a
// parameter, pin or file name — that a passage must contain verbatim to be
// about the same thing. weight is its rarity in the tenant's chunks, in [0, 1].
type exactToken struct {
	text   string // lowercased, as written
	weight float64
}

// exactTokens picks the question's code-like words: letters with digits (G64,
// E-104, M6, 7i43), identifiers with _ or an inner dot (MIN_LIMIT, tool.tbl,
// motion.spindle-on), all-capital words (DISPLAY, PWM), and numbers of two
// digits or more (120%, 1021, 2.9): a worker quoting a value the passage
// states is as specific as a code (dev: "won't go past 120%" moved its page
// from rank 9 to 4). A word found in no chunk, or in most of them, carries no
// weight.
func exactTokens(q string, a Analyzer, st shifu.TermStats) []exactToken {
	var out []exactToken
	seen := map[string]bool{}
	maxIDF := shifu.IDF(st.N, 1)
	for _, w := range codeWords(q) {
		lw := strings.ToLower(w)
		if seen[lw] || !isCode(w) {
			continue
		}
		seen[lw] = true
		ts := a.QueryTerms(w)
		if len(ts) == 0 || maxIDF <= 0 {
			continue
		}
		df := st.DF[ts[0]]
		if df == 0 {
			continue
		}
		out = append(out, exactToken{text: lw, weight: shifu.IDF(st.N, df) / maxIDF})
	}
	return out
}

// codeWords splits text into runs of letters, digits and _ with . - / inside.
func codeWords(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		inner := (r == '.' || r == '-' || r == '/') && start >= 0 && i+1 < len(s) && isWordByte(s[i+1])
		if isWordRune(r) || inner {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, s[start:i])
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

func isWordRune(r rune) bool {
	return r == '_' || (r < 0x2E80 && (unicode.IsLetter(r) || unicode.IsDigit(r)))
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func isCode(w string) bool {
	letters, digits, upper := 0, 0, 0
	for _, r := range w {
		switch {
		case unicode.IsDigit(r):
			digits++
		case unicode.IsLetter(r):
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	switch {
	case letters > 0 && digits > 0:
		return true
	case strings.Contains(w, "_") && letters > 0:
		return true
	case strings.Contains(strings.Trim(w, "."), ".") && letters > 1:
		return true
	case letters >= 2 && upper == letters:
		return true
	case letters == 0 && digits >= 2:
		return true
	}
	return false
}

// containsWord reports whether lowered text holds tok as a whole word (not
// inside a longer code: G64 is not in G640).
func containsWord(text, tok string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], tok)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(tok)
		before, _ := utf8.DecodeLastRuneInString(text[:j])
		after, _ := utf8.DecodeRuneInString(text[end:])
		if (j == 0 || !isWordRune(before)) && (end == len(text) || !isWordRune(after)) {
			return true
		}
		i = j + 1
	}
}

// unnamedTop is how many of the best candidates may name a question's model
// code (unnamed): the passages an answer may quote, and a few more.
const unnamedTop = 10

// unnamed returns the question's model codes (modelCode) that none of the
// best candidates holds, compared without - . _ and spaces (a question's
// E104 is the manual's E-104). A question naming a machine, part or alarm
// code that the passages found do not mention asks about equipment the
// manuals do not cover, however many of its other words they share: own
// sets, "tightening pull studs into BT40 tool holders", "发那科系统报 SV0401
// 报警" were answered from passages on other holders and alarms; no
// answerable question of dev or the own sets names a code its best 10
// passages lack.
func unnamed(q string, fs []*fused) []string {
	var codes []string
	for _, w := range codeWords(q) {
		if modelCode(w) {
			codes = append(codes, squash(w))
		}
	}
	if len(codes) == 0 {
		return nil
	}
	var b strings.Builder
	for _, f := range fs[:min(unnamedTop, len(fs))] {
		b.WriteString(squash(f.hit.Text))
		b.WriteByte('|')
	}
	found := b.String()
	var out []string
	for _, c := range codes {
		if !strings.Contains(found, c) {
			out = append(out, c)
		}
	}
	return out
}

// modelCode reports whether w is letters then a digit and more (BT40,
// SV0401, FX3U, Mach3, G43.2, E-104): how makers name models, parts and
// alarms. A quantity (6G, 10x10) starts with its digits.
func modelCode(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return unicode.IsLetter(r) && strings.ContainsFunc(w, unicode.IsDigit)
}

// squash lowers s and drops the separators codes are written with or
// without.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == '.' || r == '_' || unicode.IsSpace(r):
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// exactTop is how many of the best candidates boostExact considers.
const exactTop = 30

// boostExact raises chunks holding the question's codes above the rest, in
// proportion to the square of how much of the whole question they cover: a
// code is what the question is about only together with its other words.
// "After editing tool.tbl by hand, which G-code re-reads the tool table?"
// names a file every tool-table passage mentions, and the answer (G10 L0)
// does not; an additive boost for the code alone put the file's passages
// first. Dev, English: the old boost of 0.5 for the code alone gave MRR@10
// 0.717 and hit@5 0.88; 1 × coverage² gives 0.758 and 0.92 (G53, window1
// and tool.tbl questions rise, the 120% one keeps its rank); 1 × coverage
// 0.757 and 0.88; 1.5–2 × coverage² 0.735–0.741.
//
// Only the exactTop best candidates are raised: a chunk's coverage comes from
// the postings the lexical search read, but one the vector search alone found
// must be analysed (~0.4 ms), and on dev and the own sets (184 questions)
// raising only the best 20, 30 or 40 ranks exactly as raising all.
func (s *Searcher) boostExact(fs []*fused, r run) {
	if len(r.exact) == 0 || s.opt.ExactBoost <= 0 {
		return
	}
	total := 0.0
	for _, t := range r.exact {
		total += t.weight
	}
	if total == 0 {
		return
	}
	weights, all := s.termWeights(r)
	if all == 0 {
		return
	}
	sortFused(fs)
	for _, f := range fs[:min(exactTop, len(fs))] {
		lt := strings.ToLower(f.hit.Text)
		got := 0.0
		for _, t := range r.exact {
			if containsWord(lt, t.text) {
				got += t.weight
			}
		}
		if got == 0 {
			continue
		}
		cov := coverage(r, weights, s.holds(r, f.hit)) / all
		f.score += s.opt.ExactBoost * cov * cov * got / total
	}
}
