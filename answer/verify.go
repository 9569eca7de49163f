package answer

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/terms"
	"github.com/shifu-factory/shifu/retrieval"
)

// citeRE matches a citation [n], optionally followed by a quote in straight,
// curly or corner quotation marks.
var citeRE = regexp.MustCompile(`\[(\d{1,3})\](?:\s*(?:"([^"\n]{1,400})"|“([^”\n]{1,400})”|「([^」\n]{1,400})」))?`)

// verify checks the model's citations against the passages it was sent. A
// number that is not a passage is removed from the text (the model made it
// up); a quote not found in its passage is removed from the text, and its
// citation kept but flagged unverified. One
// citation per passage is returned, in order of first mention; a citation
// without a quote gets the passage sentence that best matches the claim it
// supports (see bestQuote).
func verify(text, question string, ps []passage, lang string) (string, []shifu.Citation) {
	byN := map[int]passage{}
	for _, p := range ps {
		byN[p.n] = p
	}
	cites := []shifu.Citation{}
	index := map[int]int{}   // n → position in cites
	chosen := map[int]bool{} // n → the quote is ours, not the model's
	var out strings.Builder
	prev := 0
	for _, m := range citeRE.FindAllStringSubmatchIndex(text, -1) {
		out.WriteString(text[prev:m[0]])
		prev = m[1]
		n, _ := strconv.Atoi(text[m[2]:m[3]])
		p, ok := byN[n]
		if !ok {
			continue // not a passage Shifu sent
		}
		quote := ""
		for g := 4; g+1 < len(m); g += 2 {
			if m[g] >= 0 {
				quote += text[m[g]:m[g+1]]
			}
		}
		ok = quote == "" || quoted(quote, p.hit.Text, lang)
		if ok {
			out.WriteString(text[m[0]:m[1]])
		} else {
			// A quote the passage does not hold is not shown as one: the
			// number stays, the words go (the chip flags the misquote).
			out.WriteString(text[m[0] : m[3]+1])
		}
		i, seen := index[n]
		switch {
		case !seen:
			q := quote
			if q == "" {
				q = bestQuote(p.hit, claim(text, m[0], m[1]), question, maxQuote)
				chosen[n] = true
			}
			index[n] = len(cites)
			cites = append(cites, citation(p, q, ok))
		case quote != "" && ok && (chosen[n] || !cites[i].Verified):
			cites[i] = citation(p, quote, true) // its pages are the quote's
			chosen[n] = false
		case quote != "" && !ok && chosen[n]:
			// The first mention had no quote; this one misquotes: flag it.
			cites[i] = citation(p, quote, false)
			chosen[n] = false
		}
	}
	out.WriteString(text[prev:])
	return strings.TrimSpace(strings.ReplaceAll(out.String(), "  ", " ")), cites
}

// maxQuote bounds a quote Shifu picks itself (characters).
const maxQuote = 200

// claim is the answer sentence a citation at text[start:end] supports: the
// text since the previous sentence end, or, for a citation opening its
// sentence, the text up to the next one.
func claim(text string, start, end int) string {
	before := text[:start]
	if i := strings.LastIndexAny(before, ".!?。！？\n"); i >= 0 {
		before = before[i+1:]
	}
	if len(tokens(before)) > 0 {
		return before
	}
	after := text[end:]
	if i := strings.IndexAny(after, ".!?。！？\n"); i >= 0 {
		after = after[:i]
	}
	return after
}

// bestQuote picks the passage sentence that shares the most words with the
// claim (then, on a tie or no overlap, with the question), cut to n
// characters. It falls back to the passage's opening when no sentence shares
// a word with either: the opening at least shows where the passage starts.
func bestQuote(h shifu.Hit, claim, question string, n int) string {
	ct, qt := tokens(claim), tokens(question)
	best, bestScore := "", [2]int{}
	for _, s := range shifu.Sentences(h.Body()) {
		st := tokens(s)
		score := [2]int{overlap(ct, st), overlap(qt, st)}
		if score[0] > bestScore[0] || score[0] == bestScore[0] && score[1] > bestScore[1] {
			best, bestScore = s, score
		}
	}
	if best == "" {
		return excerpt(h, n)
	}
	return cut(best, n, " ，,") // at a word end
}

func overlap(a, b map[string]bool) int {
	n := 0
	for t := range a {
		if b[t] {
			n++
		}
	}
	return n
}

// tokens are a text's lower-case words (two or more letters or digits,
// without stop words) and, for Chinese, its pairs of adjacent Han characters.
func tokens(s string) map[string]bool {
	out := map[string]bool{}
	var word []rune
	flush := func() {
		if w := string(word); len(word) > 1 && !terms.ClaimStop(w) {
			out[w] = true
		}
		word = word[:0]
	}
	r := []rune(strings.ToLower(s))
	for i, c := range r {
		switch {
		case unicode.Is(unicode.Han, c):
			flush()
			if i+1 < len(r) && unicode.Is(unicode.Han, r[i+1]) {
				out[string(r[i:i+2])] = true
			} else if i == 0 || !unicode.Is(unicode.Han, r[i-1]) {
				out[string(c)] = true // a lone character
			}
		case unicode.IsLetter(c) || unicode.IsDigit(c):
			word = append(word, c)
		default:
			flush()
		}
	}
	flush()
	return out
}

// cut shortens s to at most n characters, at one of the break characters
// when one is in the last third, and marks the cut with "…".
func cut(s string, n int, breaks string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	end := n
	for i := n; i > n*2/3; i-- {
		if strings.ContainsRune(breaks, r[i]) {
			end = i
			break
		}
	}
	return strings.TrimSpace(string(r[:end])) + "…"
}

// quoted reports whether quote appears in passage under the eval's
// normalisation (NFKC, whitespace, case); an ellipsis in the quote may stand
// for omitted text; Chinese is compared without whitespace, since PDF text
// spaces Han characters unpredictably.
func quoted(quote, passage, lang string) bool {
	np := retrieval.Normalize(passage)
	flat := noSpace(np)
	parts := strings.FieldsFunc(strings.ReplaceAll(quote, "...", "…"), func(r rune) bool { return r == '…' })
	if len(parts) == 0 {
		return false
	}
	for _, part := range parts {
		nq := retrieval.Normalize(part)
		nq = strings.Trim(nq, " .,;:。，；：")
		if nq == "" {
			continue
		}
		if !strings.Contains(np, nq) && !strings.Contains(flat, noSpace(nq)) {
			return false
		}
	}
	return true
}

func noSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
