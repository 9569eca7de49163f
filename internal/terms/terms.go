// Package terms is Shifu's lexical analyzer: it turns chunk text and questions
// into the terms of the BM25 postings table (term, chunk, tf). Index and query
// go through the same code, so a term only matches if both sides produce it.
//
// English words are lowercased, Snowball-stemmed and stop-word filtered.
// Chinese runs are segmented by gse in search mode (long words plus the dictionary
// words inside them). Machine codes — G64, G33.1, E-104, ALM 1021, HAL pins,
// INI keys, file names — stay whole, unstemmed, with their parts beside them.
package terms

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-ego/gse"
	"github.com/kljensen/snowball/english"
	"golang.org/x/text/unicode/norm"
)

// dictionary loads gse's embedded simplified-Chinese dictionary on first
// use, with the shop-floor glossary's words added (see glossary.txt). It
// keeps ~130-180 MB of heap for the life of the process, so it happens once,
// however many Analyzers are made; after loading the dictionary is only read,
// which is safe from many goroutines.
//
// gse's LoadDictEmbed costs twice what we need: it loads the HMM model (we cut
// without HMM) and computes every word's search-mode parts (CalcToken, ~40%
// of the load), which adding the glossary's words then forces us to compute
// again. loadDict reads the same lines into the trie and computes them once:
// 2.2x faster (see BenchmarkDictionary), the same cuts (TestDictionaryCuts).
var dictionary = sync.OnceValues(func() (*dict, error) {
	seg := &gse.Segmenter{SkipLog: true, NotLoadHMM: true}
	if err := loadDict(seg, zhDict); err != nil {
		return nil, err
	}
	return withGlossary(seg)
})

// zhDict is gse v0.80.3's simplified-Chinese dictionary (data/dict/zh/s_1.txt,
// from jieba; MIT), gzipped: gse keeps its embedded copy unexported, and
// loads it only through LoadDictEmbed.
//
//go:embed zh_s.txt.gz
var zhDict []byte

// loadDict adds the lines of a gzipped gse dictionary ("word freq [pos]") to
// seg without computing the words' parts (the caller's CalcToken does), with
// gse's own rules: words rarer than seg.MinTokenFreq are dropped and one
// character words get frequency 2.
func loadDict(seg *gse.Segmenter, gz []byte) error {
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return fmt.Errorf("terms: open the gse dictionary: %w", err)
	}
	seg.Dict = gse.NewDict()
	seg.Init()
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		word, tail, ok := strings.Cut(strings.TrimSpace(lines.Text()), " ")
		if !ok {
			continue
		}
		freqText, pos, _ := strings.Cut(tail, " ")
		freq, err := strconv.ParseFloat(strings.TrimSpace(freqText), 64)
		if err != nil || freq < seg.MinTokenFreq {
			continue
		}
		if utf8.RuneCountInString(word) < 2 {
			freq = 2
		}
		if err := seg.AddToken(word, freq, strings.TrimSpace(pos)); err != nil {
			return fmt.Errorf("terms: load gse dictionary word %q: %w", word, err)
		}
	}
	if err := lines.Err(); err != nil {
		return fmt.Errorf("terms: read the gse dictionary: %w", err)
	}
	return nil
}

// withGlossary adds the glossary's Chinese words to a loaded seg and computes
// the words' parts once for all.
func withGlossary(seg *gse.Segmenter) (*dict, error) {
	lines, err := parseGlossary(glossaryText)
	if err != nil {
		return nil, err
	}
	d := &dict{seg: seg, added: map[string]bool{}}
	for _, w := range hanWords(lines) {
		// Some are there already but too rare to win a cut (工控机: 3).
		f, _, ok := seg.Find(w)
		if ok && f >= wordFreq {
			continue
		}
		add := seg.AddToken
		if ok {
			add = seg.ReAddToken
		}
		if err := add(w, wordFreq); err != nil {
			return nil, fmt.Errorf("terms: add %q to the dictionary: %w", w, err)
		}
		d.added[w] = !ok
	}
	seg.CalcToken() // the cut compares log frequencies against the new total
	return d, nil
}

// dict is the loaded segmenter, the glossary's words added.
type dict struct {
	seg *gse.Segmenter
	// added are the glossary's words the dictionary did not hold before
	// (网断, 拔电).
	added map[string]bool
}

// wordFreq is the dictionary frequency given to the glossary's words: about
// that of a common noun (电脑 has 3,427), enough for 工控机能 to cut as
// 工控机/能 rather than 工控/机能 (767).
const wordFreq = 3000

// Analyzer produces index and query terms. It is safe for concurrent use.
//
// The Chinese dictionary loads at the first Chinese text an Analyzer meets
// (or at Warm), not when it is made: an English manual's ingest never pays
// its ~1.4 s of CPU and ~150 MB. The glossary's groups follow it, since a
// member such as "u盘" is cut by it.
type Analyzer struct {
	gloss   func() *glossary
	version string
	stems   *stems
}

// rules numbers the analysis Terms does. Raise it with any change that gives
// the same text other terms: stored postings are then rebuilt (see Version).
const rules = 6

// maxTerm is the longest term in bytes. A longer "word" (a base64 blob, a
// line of one letter) is no search term, and PostgreSQL refuses tsvector
// lexemes over 2,047 bytes and b-tree keys over about 2,700: kept, it failed
// the whole document.
const maxTerm = 255

// Version names the analysis: its rules and its glossary (whose words change
// how Chinese is cut). Postings of documents indexed under another version
// no longer match what questions are cut into; ingest.Service.Reindex
// rebuilds them from the stored chunk text.
func (a *Analyzer) Version() string { return a.version }

// New returns an Analyzer, or why the embedded glossary is unusable. The
// dictionary loads later (see Analyzer), once per process however many
// Analyzers are made.
func New() (*Analyzer, error) {
	lines, err := parseGlossary(glossaryText)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(glossaryText))
	a := &Analyzer{version: fmt.Sprintf("%d-%x", rules, sum[:6]), stems: &stems{m: map[string]string{}}}
	a.gloss = sync.OnceValue(func() *glossary { return newGlossary(a, lines) })
	return a, nil
}

// Warm loads the dictionary and the glossary's groups now, for a process
// that will search: its first Chinese question then does not wait.
func (a *Analyzer) Warm() { a.gloss() }

// zh is the loaded dictionary. It is embedded and loaded by every test run
// (TestDictionaryCuts): failing to load it is a broken build, not an input
// error, so it panics rather than make every caller of Terms handle it.
func zh() *dict {
	d, err := dictionary()
	if err != nil {
		panic(fmt.Sprintf("terms: load the embedded Chinese dictionary: %v", err))
	}
	return d
}

// Terms returns the index terms of text in order; a term repeated n times has
// term frequency n.
func (a *Analyzer) Terms(text string) []string {
	var out []string
	a.scan(text, true, func(t string) { out = append(out, t) })
	return out
}

// QueryTerms returns the distinct terms of a question, in first-seen order,
// without question words (what, how, 怎么, 吗 …) and conversational English
// (thing, wrote, nothing, want …) that say nothing about the topic.
func (a *Analyzer) QueryTerms(q string) []string {
	seen := map[string]bool{}
	var out []string
	a.scan(q, false, func(t string) {
		if seen[t] || queryStop[t] || chatStop[t] {
			return
		}
		seen[t] = true
		out = append(out, t)
	})
	return out
}

// scan splits text into Han runs and Latin-ish "words" (letters, digits, _,
// with . - / and digit-group commas allowed inside) and emits their terms.
func (a *Analyzer) scan(text string, index bool, emitAny func(string)) {
	emit := func(t string) {
		if len(t) <= maxTerm {
			emitAny(t)
		}
	}
	text = norm.NFKC.String(text)
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, " ")
	}
	var (
		prev    string // previous word as written, for "ALM 1021" joins
		prevEnd = -1   // byte offset just after prev
	)
	i := 0
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case isHan(r):
			j := i
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if !isHan(r2) {
					break
				}
				j += s2
			}
			a.han(text[i:j], index, emit)
			prev, prevEnd = "", -1
			i = j
		case isWordRune(r):
			j := wordEnd(text, i)
			w := text[i:j]
			a.word(w, emit)
			if prevEnd >= 0 && onlySpaces(text[prevEnd:i]) && isCodePrefix(prev) && isDigits(w) {
				emit(strings.ToLower(prev) + w)
			}
			prev, prevEnd = w, j
			i = j + clitic(text[j:])
		default:
			i += size
		}
	}
}

// han emits the search-mode segmentation of a run of Han characters, then
// every character of the run on its own.
//
// Words come from gse; single characters are added beside them because
// questions on the shop floor use one-character verbs and nouns (跑, 满, 拔,
// 盘) that gse leaves alone or glues to a particle (高亮吗), and those then
// match nothing. Callers that rank (shifu.BM25.Unigram) weigh these
// unigram terms below words, so they break ties and rescue misses rather than
// outvote a matching word. Function characters (的, 了, 吗 …) are skipped.
//
// The index gets every character; a question only the characters no word of
// it covers, so a two-character word that matches is not counted three times
// and the word's meaning, not its characters, ranks.
func (a *Analyzer) han(run string, index bool, emit func(string)) {
	d := zh()
	covered := map[rune]bool{}
	// With the HMM flag given, CutSearch is jieba's search mode: each word,
	// then the dictionary words inside it. Without it gse uses its own, which
	// cut a lone 电脑 into 电/脑 and 计算机 into 计算/机, whole only in a
	// longer run, so a word matched or not by what stood beside it.
	for _, w := range d.seg.CutSearch(run, false) {
		if utf8.RuneCountInString(w) < 2 || zhStop[w] {
			continue
		}
		emit(w)
		// A word only the glossary made one (网断, 拔电) leaves its
		// characters to match on their own too, as before it was a word:
		// the manual may say 中断 or 断开 where the worker says 网断.
		if !index && !d.added[w] {
			// A number or demonstrative glued to a measure word or noun
			// (一层, 每张, 两份, 这台) covers only itself: the noun's
			// character is the word that matters ("每层打印一页").
			first, _ := utf8.DecodeRuneInString(w)
			for i, r := range w {
				if i == 0 || !quantifier[first] {
					covered[r] = true
				}
			}
		}
	}
	for i, r := range run {
		c := run[i : i+utf8.RuneLen(r)]
		if !zhStop[c] && !covered[r] {
			emit(c)
		}
	}
}

// quantifier holds the characters that begin a number-measure phrase in
// Chinese; gse keeps such phrases whole (一层, 一张, 每个).
var quantifier = map[rune]bool{
	'一': true, '二': true, '两': true, '三': true, '四': true, '五': true, '六': true, '七': true, '八': true, '九': true,
	'十': true, '几': true, '每': true, '各': true, '这': true, '那': true, '哪': true, '某': true,
}

// Unigram reports whether t is a single Han character term (see han).
func Unigram(t string) bool {
	r, n := utf8.DecodeRuneInString(t)
	return n == len(t) && n > 0 && isHan(r)
}

func isHan(r rune) bool { return r >= 0x2E80 && unicode.Is(unicode.Han, r) }

func isWordRune(r rune) bool {
	return r == '_' || (unicode.IsLetter(r) || unicode.IsDigit(r)) && !isHan(r)
}

// wordEnd returns the end of the word starting at i. Connectors join two word
// runes: '.', '-', '/' always; ',' only inside a number as a thousands separator.
func wordEnd(text string, i int) int {
	j := i
	for j < len(text) {
		r, s := utf8.DecodeRuneInString(text[j:])
		if isWordRune(r) {
			j += s
			continue
		}
		if (r == '.' || r == '-' || r == '/' || r == ',') && j+1 < len(text) {
			next, _ := utf8.DecodeRuneInString(text[j+1:])
			if !isWordRune(next) {
				break
			}
			if r == ',' && !thousands(text, i, j) {
				break
			}
			j++
			continue
		}
		break
	}
	return j
}

// clitic returns the length of an English clitic that starts s ('s, 't,
// 're, 've, 'll, 'd, 'm, with a straight or a typographic apostrophe)
// when a word follows no further: "the tool's offset", "it won't go"
// would otherwise give the terms s and t, which every page holds.
func clitic(s string) int {
	var n int
	switch {
	case strings.HasPrefix(s, "'"):
		n = 1
	case strings.HasPrefix(s, "’"):
		n = len("’")
	default:
		return 0
	}
	for _, c := range []string{"s", "t", "re", "ve", "ll", "d", "m"} {
		if len(s) >= n+len(c) && strings.EqualFold(s[n:n+len(c)], c) {
			rest := s[n+len(c):]
			if r, _ := utf8.DecodeRuneInString(rest); rest == "" || !isWordRune(r) {
				return n + len(c)
			}
		}
	}
	return 0
}

// thousands reports whether the ',' at j sits between digit groups like 100,000.
func thousands(text string, start, j int) bool {
	if j == start || !isDigit(text[j-1]) {
		return false
	}
	k := j + 1
	for k < len(text) && k-j-1 < 4 && isDigit(text[k]) {
		k++
	}
	if k-j-1 != 3 {
		return false
	}
	return k == len(text) || !isWordByte(text[k])
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isWordByte(b byte) bool {
	return isDigit(b) || b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

func onlySpaces(s string) bool {
	for _, r := range s {
		if r != ' ' && r != '\t' {
			return false
		}
	}
	return s != ""
}

// isCodePrefix reports whether w looks like the letter part of an alarm or
// code written apart from its number: ALM 1021, ERR 5. Single capitals are
// left out: "X 10" or "V 120" are coordinates and units far more often.
func isCodePrefix(w string) bool {
	if len(w) < 2 || len(w) > 5 {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] < 'A' || w[i] > 'Z' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// word emits the terms of one Latin-ish word as written.
func (a *Analyzer) word(w string, emit func(string)) {
	lw := strings.ToLower(w)
	if strings.Contains(lw, ",") { // 100,000
		emit(strings.ReplaceAll(lw, ",", ""))
		return
	}
	if !strings.ContainsAny(lw, ".-/") {
		a.simple(lw, emit, true)
		return
	}
	if isNumber(lw) || isDottedCode(lw) { // 1.5, 2.9.1, g33.1, g38.2
		emit(lw)
		return
	}
	emit(lw)
	// Parts: motion.spindle-on → motion, spindle-on, spindle, on.
	for _, p := range strings.FieldsFunc(lw, func(r rune) bool { return r == '.' || r == '/' }) {
		if !strings.Contains(p, "-") {
			a.simple(p, emit, false)
			continue
		}
		if p != lw {
			emit(p)
		}
		hs := strings.Split(p, "-")
		joined := strings.Join(hs, "")
		if !isDigits(joined) { // e-104 → e104, e-stop → estop; not 0-10 → 010
			emit(joined)
		}
		for _, h := range hs {
			a.simple(h, emit, false)
		}
	}
}

// simple emits the terms of a word without . - / connectors. whole says it
// stood alone in the text; single letters are only kept then (X axis), not as
// fragments of a compound.
func (a *Analyzer) simple(w string, emit func(string), whole bool) {
	if w == "" {
		return
	}
	if strings.Contains(w, "_") { // max_velocity → max_velocity, max, veloc
		emit(w)
		for _, p := range strings.Split(w, "_") {
			if p != "" {
				a.simple(p, emit, false)
			}
		}
		return
	}
	letters, digits := 0, 0
	for _, r := range w {
		if unicode.IsDigit(r) {
			digits++
		} else {
			letters++
		}
	}
	switch {
	case digits == 0:
		if enStop[w] || (!whole && utf8.RuneCountInString(w) < 2) {
			return
		}
		if isASCII(w) {
			w = a.stems.stem(w)
		}
		emit(w)
	case letters == 0:
		emit(w)
	default:
		emit(w) // g64, m6, hostmot2, 7i43, 24v: never stemmed
		// g01 → also g1; 10mm → also 10 and mm.
		k := 0
		for k < len(w) && !isDigit(w[k]) {
			k++
		}
		if k > 0 && isDigits(w[k:]) {
			if t := strings.TrimLeft(w[k:], "0"); t != w[k:] && t != "" {
				emit(w[:k] + t)
			}
			return
		}
		k = 0
		for k < len(w) && isDigit(w[k]) {
			k++
		}
		if k > 0 && k < len(w) && isAlpha(w[k:]) {
			emit(w[:k])
			emit(w[k:])
		}
	}
}

// stem is the Snowball English stem of w, except where Snowball folds
// together words that machine manuals keep apart (Lucene's stemmer override,
// for the same reason): positive and position are both "posit", paste is
// "past", relative is "relat" like relation, and direction is "direct"
// (the list came from grouping the LinuxCNC manuals' words by stem).
func stem(w string) string {
	if s, ok := stemOverride[w]; ok {
		return s
	}
	return english.Stem(w, true)
}

// stems memoises stem: Snowball was about half of analysing English, and a
// library's vocabulary is some tens of thousands of words, stemmed again in
// every chunk, heading and question. Past maxStems words (text made to
// grow it) new words are stemmed without being kept.
type stems struct {
	mu sync.RWMutex
	m  map[string]string
}

const maxStems = 200_000

func (c *stems) stem(w string) string {
	c.mu.RLock()
	s, ok := c.m[w]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = stem(w)
	c.mu.Lock()
	if len(c.m) < maxStems {
		c.m[strings.Clone(w)] = s
	}
	c.mu.Unlock()
	return s
}

var stemOverride = map[string]string{
	"positive": "positiv", "positively": "positiv", "positives": "positiv",
	"relative": "relativ", "relatively": "relativ",
	"direction": "direction", "directions": "direction", "directional": "direction",
	"paste": "paste", "pastes": "paste", "pasted": "paste", "pasting": "paste",
	"international": "internation", "internationalization": "internation",
	"modulation": "modulation",                                                  // pulse-width modulation, not a kernel module
	"original":   "original", "originally": "original", "originals": "original", // not the origin of a coordinate system
	"terminate": "terminat", "terminated": "terminat", "terminates": "terminat", "terminating": "terminat", "termination": "terminat", // not a terminal
	"integral":       "integral",                               // PID's integral term, not the integrator or integration
	"conversational": "conversation",                           // conversational programming, not unit conversion
	"numerous":       "numerous",                               // not numeric
	"successive":     "successiv", "successively": "successiv", // not successful
	"responsible": "responsibl", "responsibility": "responsibl", // not a response
	"designate": "designat", "designated": "designat", "designates": "designat", "designation": "designat", // not a design
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

// isNumber reports digits with '.' or '-' between them: 1.5, 2.9.1, 0-10.
func isNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && s[i] != '.' {
			return false
		}
	}
	return true
}

// isDottedCode matches a G/M-style code with a decimal: g33.1, g38.2, m100.5.
func isDottedCode(s string) bool {
	k := 0
	for k < len(s) && s[k] >= 'a' && s[k] <= 'z' {
		k++
	}
	if k == 0 || k > 2 || k == len(s) || !isDigit(s[k]) {
		return false
	}
	return isNumber(s[k:]) && strings.Count(s[k:], ".") == 1
}

// Chars returns the characters of a Han word that are terms on their own
// (function characters left out), for searching a word no chunk holds by
// its characters: a worker's 删了 or 占满 is in no manual, 删 and 满 are.
// A term that is not a Han word of two characters or more has none.
func (a *Analyzer) Chars(w string) []string {
	if utf8.RuneCountInString(w) < 2 || !allHan(w) {
		return nil
	}
	var out []string
	for i, r := range w {
		c := w[i : i+utf8.RuneLen(r)]
		if !zhStop[c] && !queryStop[c] && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
