package terms

import (
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Lexicon is a bilingual dictionary (internal/dict: CC-CEDICT).
type Lexicon interface {
	// Glosses are the English glosses of a simplified Chinese word.
	Glosses(word string) []string
	// Headwords are the Chinese words with gloss as one of their glosses.
	Headwords(gloss string, max int) []string
	Has(word string) bool
}

// Translation is one word of a question put into the other language, for
// structured query translation (Pirkola, 1998): all of a word's
// translations form one group whose BM25 weight they share, so a word with
// ten glosses does not outweigh a word with one.
type Translation struct {
	Word string     // as the question wrote it
	Alts [][]string // each translation as its index terms
	// Weight is the group's query weight: 1 for a word of the question, less
	// for a character of a word neither gse nor the dictionary knows.
	Weight float64
	// Glossary: the translations are the shop-floor glossary's, which wins
	// over the dictionary where both know the word.
	Glossary bool
	// Plant: the tenant's own glossary gave it (retrieval), which wins over
	// both and is weighed as a word of the question.
	Plant bool
}

// Translation limits: the first senses of a word are its common ones, and
// a sense's gloss past a few words explains rather than names.
const (
	maxAlts      = 6
	maxHeadwords = 4
	charWeight   = 0.5 // a character of an unknown word stands for less than a word
	// charSpecificity is a single character's Specificity.
	charSpecificity = 0.4
	maxWordRunes    = 6 // longest dictionary word the greedy match tries
)

// Translate returns the question's words in the other language: a Chinese
// question's words (cut by gse, as the index cuts them) with their English
// translations, or an English question's words and phrases with their
// Chinese ones. Adjacent words that the dictionary or the glossary holds as
// one entry are translated as one (限位 + 开关: limit switch) before any is
// translated alone, and a word neither knows is translated by its longest
// known parts, then its characters. Codes (G64, AXIS, setp) are the same in
// both languages and are left to the caller. d may be nil: the glossary
// alone.
func (a *Analyzer) Translate(question string, d Lexicon) []Translation {
	question = norm.NFKC.String(question)
	var out []Translation
	var han strings.Builder
	flush := func() {
		if han.Len() > 0 {
			out = append(out, a.translateHan(han.String(), d)...)
			han.Reset()
		}
	}
	var latin []string
	for _, r := range question {
		if isHan(r) {
			han.WriteRune(r)
			continue
		}
		flush()
		if isWordRune(r) || r == ' ' || r == '-' {
			if len(latin) == 0 || r == ' ' {
				latin = append(latin, "")
			}
			if r != ' ' {
				latin[len(latin)-1] += string(r)
			}
		} else {
			latin = append(latin, "") // punctuation ends a phrase
		}
	}
	flush()
	if shouldReverse(question) {
		out = append(out, a.translateLatin(latin, d)...)
	}
	return dedupe(out)
}

// shouldReverse: an English question is translated into Chinese; a Chinese
// question's Latin words (codes, AXIS, PID) are searched as written.
func shouldReverse(q string) bool {
	han, latin := 0, 0
	for _, r := range q {
		switch {
		case isHan(r):
			han++
		case r < 0x250 && isWordRune(r):
			latin++
		}
	}
	return han == 0 && latin > 0
}

func (a *Analyzer) translateHan(run string, d Lexicon) []Translation {
	words := zh().seg.Cut(run, false)
	var out []Translation
	for i := 0; i < len(words); {
		// The longest run of gse's words that is one entry.
		j := i + 1
		for k := min(len(words), i+4); k > i+1; k-- {
			if w := strings.Join(words[i:k], ""); utf8.RuneCountInString(w) <= maxWordRunes && a.known(w, d) {
				j = k
				break
			}
		}
		w := strings.Join(words[i:j], "")
		i = j
		if zhStop[w] || queryStop[w] {
			continue
		}
		if t, ok := a.translateWord(w, d, 1); ok {
			out = append(out, t)
			continue
		}
		out = append(out, a.translateParts(w, d)...)
	}
	return out
}

// known reports whether the glossary or the dictionary has w.
func (a *Analyzer) known(w string, d Lexicon) bool {
	if len(a.gloss().byTerm[w]) > 0 {
		return true
	}
	return d != nil && d.Has(w)
}

// translateWord translates one Chinese word: the glossary's English members
// if it has the word, else the dictionary's first glosses.
func (a *Analyzer) translateWord(w string, d Lexicon, weight float64) (Translation, bool) {
	t := Translation{Word: w, Weight: weight}
	gl := a.gloss()
	for _, gi := range gl.byTerm[w] {
		gr := gl.groups[gi]
		if !slices.ContainsFunc(gr, func(ts []string) bool { return len(ts) == 1 && ts[0] == w }) {
			continue // w is part of a longer member only
		}
		for _, ts := range gr {
			if !slices.ContainsFunc(ts, func(x string) bool { r, _ := utf8.DecodeRuneInString(x); return isHan(r) }) {
				t.Alts = appendAlt(t.Alts, ts)
			}
		}
	}
	if len(t.Alts) > 0 {
		t.Glossary = true
		return t, true
	}
	if d == nil {
		return t, false
	}
	gs := d.Glosses(w)
	for _, g := range gs {
		if len(t.Alts) == maxAlts {
			break
		}
		if ts := a.QueryTerms(g); len(ts) > 0 {
			t.Alts = appendAlt(t.Alts, ts)
		}
	}
	return t, len(t.Alts) > 0
}

// translateParts translates a word neither source knows by its longest
// known parts (forward maximum matching), then its single characters at a
// lower weight: 动不了 → 动, 不了.
func (a *Analyzer) translateParts(w string, d Lexicon) []Translation {
	rs := []rune(w)
	var out []Translation
	for i := 0; i < len(rs); {
		n := 1
		for k := min(len(rs)-i, maxWordRunes); k > 1; k-- {
			if a.known(string(rs[i:i+k]), d) {
				n = k
				break
			}
		}
		part := string(rs[i : i+n])
		i += n
		if zhStop[part] || queryStop[part] {
			continue
		}
		weight := 1.0
		if n == 1 {
			weight = charWeight
		}
		if t, ok := a.translateWord(part, d, weight); ok {
			out = append(out, t)
		}
	}
	return out
}

// translateLatin translates an English question's words into Chinese: a
// two-word phrase the dictionary holds (limit switch) first, else each
// word, as written, then without a plural or verb ending.
func (a *Analyzer) translateLatin(phrases []string, d Lexicon) []Translation {
	if d == nil {
		return nil // the glossary's Chinese members are the question's synonyms already
	}
	var out []Translation
	for _, p := range phrases {
		ws := strings.Fields(strings.ToLower(p))
		for i := 0; i < len(ws); {
			if i+1 < len(ws) && len(a.QueryTerms(ws[i]+" "+ws[i+1])) == 2 {
				if t, ok := a.reverse(ws[i]+" "+ws[i+1], d); ok {
					out = append(out, t)
					i += 2
					continue
				}
			}
			w := ws[i]
			i++
			if len(a.QueryTerms(w)) == 0 {
				continue // a stop word, a question word
			}
			if t, ok := a.reverse(w, d); ok {
				out = append(out, t)
			}
		}
	}
	return out
}

// reverse looks an English word or phrase up among the glosses.
func (a *Analyzer) reverse(w string, d Lexicon) (Translation, bool) {
	t := Translation{Word: w, Weight: 1}
	for _, form := range englishForms(w) {
		for _, h := range d.Headwords(form, maxHeadwords) {
			if utf8.RuneCountInString(h) > 1 && allHan(h) {
				t.Alts = appendAlt(t.Alts, []string{h})
			}
		}
		if len(t.Alts) > 0 {
			return t, true
		}
	}
	return t, false
}

// englishForms are w and, for a last word ending like a plural or a verb
// form, the forms a dictionary gloss would use.
func englishForms(w string) []string {
	out := []string{w}
	for _, suf := range []string{"ies", "es", "s", "ing", "ed"} {
		if strings.HasSuffix(w, suf) && len(w) > len(suf)+2 {
			base := strings.TrimSuffix(w, suf)
			if suf == "ies" {
				base += "y"
			}
			out = append(out, base)
			if suf == "ing" || suf == "ed" {
				out = append(out, base+"e")
			}
		}
	}
	return out
}

func appendAlt(alts [][]string, ts []string) [][]string {
	for _, x := range alts {
		if slices.Equal(x, ts) {
			return alts
		}
	}
	return append(alts, ts)
}

// dedupe keeps the first translation of each word.
func dedupe(ts []Translation) []Translation {
	seen := map[string]bool{}
	out := ts[:0]
	for _, t := range ts {
		if !seen[t.Word] {
			seen[t.Word] = true
			out = append(out, t)
		}
	}
	return out
}

// Specificity's scale, in bits below the dictionary's total frequency.
const (
	commonBits = 9.0  // log2(total/freq) of everyday words (时候, 以后, 一般)
	rareBits   = 16.0 // and of technical ones (梯形图, 线圈)
)

// Specificity says, from the segmenter's general-language word frequency,
// how much a Chinese word names a topic rather than carries the sentence:
// 0.15 for everyday words (时候 ≈ 2^9 below the total), rising linearly to 1
// for rare ones (2^16 and below) and for words the dictionary lacks.
//
// A single character says less than a word whatever its frequency (as
// BM25.Unigram weighs it): charSpecificity.
func (a *Analyzer) Specificity(w string) float64 {
	if utf8.RuneCountInString(w) == 1 {
		return charSpecificity
	}
	seg := zh().seg
	f, _, ok := seg.Find(w)
	total := seg.Dict.TotalFreq()
	if !ok || f <= 0 || total <= 0 {
		return 1
	}
	bits := math.Log2(total / f)
	return min(1, max(0.15, (bits-commonBits)/(rareBits-commonBits)))
}
