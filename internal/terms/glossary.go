package terms

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

//go:embed glossary.txt
var glossaryText string

// Synonym is one other way of naming what some of a question's terms name:
// Of are the question's terms that make up members of a glossary group (all
// of a member's terms), and Terms are the terms of another member of it.
type Synonym struct {
	Of    []string
	Terms []string
}

// In reports whether a text whose terms are have names the synonym: it
// holds all of the synonym's terms.
func (s Synonym) In(have map[string]bool) bool { return all(s.Terms, have) }

// group is one glossary line, each member as its terms.
type group [][]string

// glossary maps a term to the groups with a member holding it.
type glossary struct {
	groups []group
	byTerm map[string][]int
}

// parseGlossary reads glossary.txt: one group a line, members separated by
// commas, '#' starts a comment.
func parseGlossary(text string) ([][]string, error) {
	var out [][]string
	for n, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		var members []string
		for _, m := range strings.Split(line, ",") {
			m = strings.Join(strings.Fields(m), " ")
			if m == "" {
				return nil, fmt.Errorf("terms: glossary line %d: empty member", n+1)
			}
			members = append(members, m)
		}
		if len(members) < 2 {
			return nil, fmt.Errorf("terms: glossary line %d: a group needs two members or more", n+1)
		}
		out = append(out, members)
	}
	return out, nil
}

// allHan reports whether s is one run of Han characters.
func allHan(s string) bool {
	for _, r := range s {
		if !isHan(r) {
			return false
		}
	}
	return s != ""
}

// newGlossary analyses each member with a. A member written in Han
// characters alone is one dictionary word (see dictionary), so it is one term;
// its sub-words would match far more than it names.
func newGlossary(a *Analyzer, lines [][]string) *glossary {
	g := &glossary{byTerm: map[string][]int{}}
	for _, members := range lines {
		var gr group
		for _, m := range members {
			var ts []string
			if allHan(m) {
				ts = []string{m}
			} else {
				ts = a.QueryTerms(m)
			}
			if len(ts) > 0 {
				gr = append(gr, ts)
			}
		}
		if len(gr) < 2 {
			continue
		}
		gi := len(g.groups)
		g.groups = append(g.groups, gr)
		seen := map[string]bool{}
		for _, ts := range gr {
			for _, t := range ts {
				if !seen[t] {
					seen[t] = true
					g.byTerm[t] = append(g.byTerm[t], gi)
				}
			}
		}
	}
	return g
}

// Synonyms returns the other names, from the shop-floor glossary, of what the
// question's terms name: for every group with a member all of whose terms
// the question holds, the group's other members. Single Han characters are
// left out of Terms: one character (刀, 板) alone matches too much to add.
func (a *Analyzer) Synonyms(query []string) []Synonym {
	g := a.gloss()
	have := make(map[string]bool, len(query))
	for _, t := range query {
		have[t] = true
	}
	var out []Synonym
	done := map[int]bool{}
	for _, t := range query {
		for _, gi := range g.byTerm[t] {
			if done[gi] {
				continue
			}
			done[gi] = true
			gr := g.groups[gi]
			var of []string
			for _, ts := range gr {
				if all(ts, have) {
					for _, x := range ts {
						if !slices.Contains(of, x) {
							of = append(of, x)
						}
					}
				}
			}
			if len(of) == 0 {
				continue
			}
			for _, ts := range gr {
				if all(ts, have) || len(ts) == 1 && Unigram(ts[0]) {
					continue
				}
				out = append(out, Synonym{Of: of, Terms: ts})
			}
		}
	}
	return out
}

func all(ts []string, have map[string]bool) bool {
	for _, t := range ts {
		if !have[t] {
			return false
		}
	}
	return len(ts) > 0
}

// hanWords are the glossary's Han members, added to the segmenter's
// dictionary so that text and questions cut them as words (工控机, not
// 工控 + 机能).
func hanWords(lines [][]string) []string {
	var out []string
	for _, members := range lines {
		for _, m := range members {
			if allHan(m) && utf8.RuneCountInString(m) > 1 {
				out = append(out, m)
			}
		}
	}
	return out
}
