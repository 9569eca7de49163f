// Package wordnet reads Princeton WordNet 3.0 as Debian's wordnet-base
// installs it (/usr/share/wordnet: index.*, data.*, *.exc, cntlist.rev) and
// gives the other names of everyday English words: the lemmas of a word's
// most frequent senses, and for an adjective the adjectives its senses are
// "similar to" (enormous → large). Only words SemCor saw tagged often enough
// are expanded: the everyday vocabulary a worker uses instead of a manual's
// terms, not the rare senses that make WordNet expansion noisy.
package wordnet

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultDir is where Debian's wordnet-base puts the database.
const DefaultDir = "/usr/share/wordnet"

// Options bound what a word expands to.
type Options struct {
	// Senses is how many of a word's most frequent tagged senses count, in
	// its most frequent part of speech; default 2.
	Senses int
	// MinCount is the SemCor tag count (all senses) below which a word is
	// not everyday enough to expand; default 10.
	MinCount int
	// Max is the most other names kept for a word; default 8.
	Max int
}

// WordNet is the loaded database; read-only, safe for concurrent use.
type WordNet struct {
	opt   Options
	syn   map[string][]string // lemma → its other names, best first
	count map[string]int      // lemma → SemCor tag count
	byPOS map[string]map[byte]int
	exc   map[byte]map[string][]string
}

var posFiles = map[byte]string{'n': "noun", 'v': "verb", 'a': "adj", 'r': "adv"}

type ref struct {
	pos byte
	off int64
}

// Load reads the database in dir.
func Load(dir string, o Options) (*WordNet, error) {
	if o.Senses <= 0 {
		o.Senses = 2
	}
	if o.MinCount <= 0 {
		o.MinCount = 10
	}
	if o.Max <= 0 {
		o.Max = 8
	}
	w := &WordNet{opt: o, syn: map[string][]string{}, count: map[string]int{}, byPOS: map[string]map[byte]int{}, exc: map[byte]map[string][]string{}}
	if err := w.loadCounts(filepath.Join(dir, "cntlist.rev")); err != nil {
		return nil, err
	}
	senses := map[string][]ref{}
	for pos, name := range posFiles {
		if err := w.loadIndex(filepath.Join(dir, "index."+name), pos, senses); err != nil {
			return nil, err
		}
		if err := w.loadExc(filepath.Join(dir, name+".exc"), pos); err != nil {
			return nil, err
		}
	}
	data := map[byte][]byte{}
	for pos, name := range posFiles {
		b, err := os.ReadFile(filepath.Join(dir, "data."+name))
		if err != nil {
			return nil, fmt.Errorf("wordnet: %w", err)
		}
		data[pos] = b
	}
	for lemma, refs := range senses {
		seen := map[string]bool{lemma: true}
		var out []string
		add := func(ws []string) {
			for _, x := range ws {
				// One word only: a phrase's words ("unit of ammunition")
				// would each be searched as a name of the word.
				if !seen[x] && len(out) < o.Max && !strings.ContainsAny(x, " -") {
					seen[x] = true
					out = append(out, x)
				}
			}
		}
		for _, r := range refs {
			ws, similar, err := synset(data, r)
			if err != nil {
				return nil, fmt.Errorf("wordnet: %s: %w", lemma, err)
			}
			add(ws)
			for _, s := range similar {
				sw, _, err := synset(data, s)
				if err != nil {
					return nil, fmt.Errorf("wordnet: %s: %w", lemma, err)
				}
				add(sw[:min(1, len(sw))]) // the head word: large, not every synonym of it
			}
		}
		if len(out) > 0 {
			w.syn[lemma] = out
		}
	}
	return w, nil
}

// loadCounts sums cntlist.rev's tag counts ("sense_key sense_number
// tag_cnt") by lemma.
func (w *WordNet) loadCounts(path string) error {
	return lines(path, func(f []string) error {
		if len(f) < 3 {
			return nil
		}
		lemma, _, ok := strings.Cut(f[0], "%")
		n, err := strconv.Atoi(f[2])
		if !ok || err != nil {
			return fmt.Errorf("bad count line %q", strings.Join(f, " "))
		}
		lemma = strings.ReplaceAll(lemma, "_", " ")
		w.count[lemma] += n
		// The sense key's lex_sense starts with the synset type: 1 noun,
		// 2 verb, 3 adjective, 4 adverb, 5 adjective satellite.
		pos := map[byte]byte{'1': 'n', '2': 'v', '3': 'a', '4': 'r', '5': 'a'}[f[0][len(lemma)+1]]
		if w.byPOS[lemma] == nil {
			w.byPOS[lemma] = map[byte]int{}
		}
		w.byPOS[lemma][pos] += n
		return nil
	})
}

// loadIndex reads "lemma pos synset_cnt p_cnt [ptr…] sense_cnt tagsense_cnt
// offset…", keeping the first Senses tagged senses (offsets come most
// frequent first) of everyday lemmas.
func (w *WordNet) loadIndex(path string, pos byte, senses map[string][]ref) error {
	return lines(path, func(f []string) error {
		if len(f) < 4 {
			return nil
		}
		lemma := strings.ReplaceAll(f[0], "_", " ")
		if w.count[lemma] < w.opt.MinCount || !w.dominant(lemma, pos) {
			return nil
		}
		p, err := strconv.Atoi(f[3])
		if err != nil || len(f) < 6+p {
			return fmt.Errorf("bad index line for %q", f[0])
		}
		tagged, err := strconv.Atoi(f[5+p])
		if err != nil {
			return fmt.Errorf("bad index line for %q", f[0])
		}
		for _, o := range f[6+p:][:min(tagged, w.opt.Senses, len(f)-6-p)] {
			off, err := strconv.ParseInt(o, 10, 64)
			if err != nil {
				return fmt.Errorf("bad offset %q for %q", o, f[0])
			}
			senses[lemma] = append(senses[lemma], ref{pos, off})
		}
		return nil
	})
}

// dominant reports whether pos is the part of speech SemCor tagged lemma
// most often as: "drop" in a question is the verb far more than the noun,
// and the other part's senses would be noise.
func (w *WordNet) dominant(lemma string, pos byte) bool {
	n := w.byPOS[lemma][pos]
	for _, m := range w.byPOS[lemma] {
		if m > n {
			return false
		}
	}
	return n > 0
}

// loadExc reads the irregular forms: "went go".
func (w *WordNet) loadExc(path string, pos byte) error {
	m := map[string][]string{}
	w.exc[pos] = m
	return lines(path, func(f []string) error {
		if len(f) >= 2 {
			for _, b := range f[1:] {
				m[f[0]] = append(m[f[0]], strings.ReplaceAll(b, "_", " "))
			}
		}
		return nil
	})
}

// synset parses the data line at r: "offset lex_filenum ss_type w_cnt word
// lex_id … p_cnt [ptr_symbol offset pos source/target]… | gloss".
func synset(data map[byte][]byte, r ref) (words []string, similar []ref, err error) {
	b := data[r.pos]
	if r.off < 0 || r.off >= int64(len(b)) {
		return nil, nil, fmt.Errorf("offset %d out of range", r.off)
	}
	line := b[r.off:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	if i := bytes.Index(line, []byte(" | ")); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(string(line))
	if len(f) < 4 {
		return nil, nil, fmt.Errorf("bad synset at %d", r.off)
	}
	n, err := strconv.ParseInt(f[3], 16, 32)
	if err != nil || len(f) < 5+2*int(n) {
		return nil, nil, fmt.Errorf("bad synset at %d", r.off)
	}
	for i := range int(n) {
		word := f[4+2*i]
		if j := strings.IndexByte(word, '('); j > 0 { // adjective markers: (a), (p), (ip)
			word = word[:j]
		}
		words = append(words, strings.ToLower(strings.ReplaceAll(word, "_", " ")))
	}
	rest := f[4+2*n:]
	satellite := f[2] == "s"
	p, err := strconv.Atoi(rest[0])
	if err != nil || len(rest) < 1+4*p {
		return nil, nil, fmt.Errorf("bad pointers at %d", r.off)
	}
	for i := range p {
		ptr := rest[1+4*i:]
		// A satellite's "similar to" is its head (enormous → large); a
		// head's are all its satellites (large → every kind of large).
		if ptr[0] == "&" && satellite {
			off, err := strconv.ParseInt(ptr[1], 10, 64)
			if err == nil {
				similar = append(similar, ref{'a', off})
			}
		}
	}
	return words, similar, nil
}

func lines(path string, each func([]string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("wordnet: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "  ") {
			continue // the licence at the head of each file
		}
		if err := each(strings.Fields(sc.Text())); err != nil {
			return fmt.Errorf("wordnet: %s: %w", filepath.Base(path), err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("wordnet: %s: %w", filepath.Base(path), err)
	}
	return nil
}

// Others returns the other names of an English word as written (any
// inflection: "rounds", "smoother"), best first; none for a word not
// everyday enough.
func (w *WordNet) Others(word string) []string {
	word = strings.ToLower(word)
	var out []string
	seen := map[string]bool{}
	for _, l := range w.lemmas(word) {
		seen[l] = true
	}
	for _, l := range w.lemmas(word) {
		for _, s := range w.syn[l] {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out[:min(len(out), w.opt.Max)]
}

// Count is the word's SemCor tag count: how everyday it is.
func (w *WordNet) Count(word string) int {
	n := 0
	for _, l := range w.lemmas(strings.ToLower(word)) {
		n = max(n, w.count[l])
	}
	return n
}

// suffixes are morphy's detachment rules, per part of speech.
var suffixes = map[byte][][2]string{
	'n': {{"s", ""}, {"ses", "s"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"}},
	'v': {{"s", ""}, {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""}},
	'a': {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}},
}

// lemmas are the base forms of word WordNet knows (morphy: exceptions,
// then suffix rules), the word itself first.
func (w *WordNet) lemmas(word string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(l string) {
		if !seen[l] {
			if _, ok := w.syn[l]; ok {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	add(word)
	for _, pos := range []byte{'n', 'v', 'a', 'r'} {
		for _, l := range w.exc[pos][word] {
			add(l)
		}
		for _, s := range suffixes[pos] {
			if b, ok := strings.CutSuffix(word, s[0]); ok && b != "" {
				add(b + s[1])
			}
		}
	}
	return out
}

// Len is how many everyday words have other names.
func (w *WordNet) Len() int { return len(w.syn) }
