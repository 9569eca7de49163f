package answer

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/retrieval"
)

// citeRE matches a citation [n], optionally followed by a quote in straight,
// curly or corner quotation marks.
var citeRE = regexp.MustCompile(`\[(\d{1,3})\](?:\s*(?:"([^"\n]{1,400})"|“([^”\n]{1,400})”|「([^」\n]{1,400})」))?`)

// verify checks the model's citations against the passages it was sent. A
// number that is not a passage is removed from the text (the model made it
// up); a quote not found in its passage is kept but flagged unverified. One
// citation per passage is returned, in order of first mention; a citation
// without a quote gets the passage's opening as its quote.
func verify(text string, ps []passage, lang string) (string, []shifu.Citation) {
	byN := map[int]passage{}
	for _, p := range ps {
		byN[p.n] = p
	}
	cites := []shifu.Citation{}
	index := map[int]int{} // n → position in cites
	out := citeRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := citeRE.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[1])
		p, ok := byN[n]
		if !ok {
			return "" // not a passage Shifu sent
		}
		quote := sub[2] + sub[3] + sub[4]
		ok = quote == "" || quoted(quote, p.hit.Text, lang)
		i, seen := index[n]
		switch {
		case !seen:
			q := quote
			if q == "" {
				q = excerpt(p.hit, 200)
			}
			index[n] = len(cites)
			cites = append(cites, citation(p, q, ok))
		case quote != "" && ok && !cites[i].Verified:
			cites[i].Quote, cites[i].Verified = quote, true
		case quote != "" && !ok && cites[i].Verified && cites[i].Quote == excerpt(p.hit, 200):
			// The first mention had no quote; this one misquotes: flag it.
			cites[i].Quote, cites[i].Verified = quote, false
		}
		return m
	})
	return strings.TrimSpace(strings.ReplaceAll(out, "  ", " ")), cites
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
