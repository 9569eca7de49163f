package llm

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"runtime"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/terms"
)

// HashModel is the offline embedder's model name with the default settings.
const HashModel = "shifu-hash-v2"

// hashModelV1 names vectors made with the first defaults (512 buckets, the
// same features): configurations still asking for them keep their name, so
// their stored vectors stay comparable.
const hashModelV1 = "shifu-hash-v1"

// HashConfig holds the offline embedder's knobs. Zero fields take the defaults
// of DefaultHashConfig; a negative weight turns that feature family off.
// Changing any knob changes Model(), so vectors made with different settings
// are never compared.
type HashConfig struct {
	Dim       int     // vector width, ≤ MaxDim; default 1024
	Word      float32 // lightly stemmed word unigram
	Bigram    float32 // pair of adjacent content words (stop words skipped)
	Char      float32 // each character n-gram of a Latin word, with < > boundary marks
	MinGram   int     // shortest character n-gram; default 3
	MaxGram   int     // longest character n-gram; default 5
	Han       float32 // Han (and kana/Hangul) character unigram
	HanBigram float32 // pair of adjacent Han characters: most Chinese words are two characters
	// NoStem turns off the light English suffix stripping of word unigrams.
	NoStem bool
	// KeepStopWords gives function words ("the", "of", "的") features too.
	KeepStopWords bool
}

// DefaultHashConfig returns the settings NewOffline uses. 1,024 buckets, not
// 512: a 1,000-character chunk has ~1,500 distinct features, and at 512 their
// collisions blurred the cosine (dev set, vectors alone: MRR@10 en 0.570 →
// 0.581, zh 0.472 → 0.518; hit@10 zh 0.60 → 0.80). The column is
// halfvec(1024) either way, so the width costs no storage.
func DefaultHashConfig() HashConfig {
	return HashConfig{Dim: 1024, Word: 1, Bigram: 0.7, Char: 0.25, MinGram: 3, MaxGram: 5, Han: 0.5, HanBigram: 1}
}

// Hashing is the offline embedder: a hashing-trick ("feature hashing") vector.
// Each text is cut into features — lowercased, lightly stemmed word unigrams,
// adjacent word pairs, character 3–5-grams of each Latin word, and Han
// character unigrams and bigrams — and each feature adds a signed, sublinearly
// weighted (1+ln tf) count to one of Dim buckets chosen by an FNV-1a hash; the
// sign comes from another bit of the hash, so colliding features tend to cancel
// rather than pile up. The vector is L2-normalised, so cosine similarity
// measures shared features.
//
// It has no real semantics: "pump" and "impeller" are unrelated to it, and a
// Chinese question will not find an English manual. What it adds to BM25 is
// sub-word, fuzzy matching: inflections, typos, part numbers written
// differently ("M8x1.25" vs "M8 x 1.25"), and Chinese without a word
// segmenter. Cross-language and paraphrase retrieval need a hosted model.
//
// It is deterministic across runs and machines, needs no files or network,
// and is safe for concurrent use.
type Hashing struct {
	cfg   HashConfig
	model string
	pool  sync.Pool // *hashScratch
}

// NewOffline returns the offline embedder with default settings and the given
// width (0: 1024).
func NewOffline(dim int) (*Hashing, error) {
	cfg := DefaultHashConfig()
	if dim != 0 {
		cfg.Dim = dim
	}
	return NewHashing(cfg)
}

// NewHashing returns an offline embedder with the given settings.
func NewHashing(cfg HashConfig) (*Hashing, error) {
	def := DefaultHashConfig()
	if cfg.Dim == 0 {
		cfg.Dim = def.Dim
	}
	if cfg.Dim < 1 || cfg.Dim > MaxDim {
		return nil, shifu.Errorf(shifu.ErrInvalid, "offline embedding dimension %d is not supported; use 1 to %d", cfg.Dim, MaxDim)
	}
	fill := func(w *float32, d float32) {
		switch {
		case *w == 0:
			*w = d
		case *w < 0:
			*w = 0
		}
	}
	fill(&cfg.Word, def.Word)
	fill(&cfg.Bigram, def.Bigram)
	fill(&cfg.Char, def.Char)
	fill(&cfg.Han, def.Han)
	fill(&cfg.HanBigram, def.HanBigram)
	if cfg.MinGram == 0 {
		cfg.MinGram = def.MinGram
	}
	if cfg.MaxGram == 0 {
		cfg.MaxGram = max(def.MaxGram, cfg.MinGram)
	}
	if cfg.MinGram < 1 || cfg.MaxGram < cfg.MinGram || cfg.MaxGram > 8 {
		return nil, shifu.Errorf(shifu.ErrInvalid, "character n-gram range %d–%d is not supported; use 1 ≤ min ≤ max ≤ 8", cfg.MinGram, cfg.MaxGram)
	}
	h := &Hashing{cfg: cfg, model: HashModel}
	v1 := def
	v1.Dim = 512
	switch {
	case cfg == v1:
		h.model = hashModelV1
	case cfg != def:
		f := fnv.New32a()
		fmt.Fprintf(f, "%+v", cfg)
		h.model = fmt.Sprintf("%s+%08x", HashModel, f.Sum32())
	}
	h.pool.New = func() any { return &hashScratch{} }
	return h, nil
}

// Local marks the offline embedder as computed in this process at no
// charge (ingest.LocalEmbedder).
func (h *Hashing) Local() {}

// Config returns the settings in effect, defaults filled in.
func (h *Hashing) Config() HashConfig { return h.cfg }
func (h *Hashing) Model() string      { return h.model }
func (h *Hashing) Dim() int           { return h.cfg.Dim }

// Embed returns one L2-normalised vector per text. A text with no features
// (empty, only punctuation or stop words) gets the zero vector.
// The texts are spread over up to GOMAXPROCS goroutines (each text is
// independent and pure CPU), which all end before Embed returns.
func (h *Hashing) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	workers := min(runtime.GOMAXPROCS(0), (len(texts)+hashPerWorker-1)/hashPerWorker)
	if workers <= 1 {
		if err := h.embedRange(ctx, texts, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	per := (len(texts) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		from, to := w*per, min((w+1)*per, len(texts))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = h.embedRange(ctx, texts[from:to], out[from:to])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// hashPerWorker is the fewest texts worth a goroutine of their own (a chunk
// takes ~1 ms; a question alone stays on the caller's goroutine).
const hashPerWorker = 16

// embedRange fills out with the vectors of texts, stopping when ctx ends.
func (h *Hashing) embedRange(ctx context.Context, texts []string, out [][]float32) error {
	s := h.pool.Get().(*hashScratch)
	defer h.pool.Put(s)
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		out[i] = h.vector(s, t)
	}
	return nil
}

// EmbedOne embeds a single text; it is Embed without the slice.
func (h *Hashing) EmbedOne(text string) []float32 {
	s := h.pool.Get().(*hashScratch)
	defer h.pool.Put(s)
	return h.vector(s, text)
}

// Feature seeds keep the families apart: the word "ab" and the Han bigram
// with the same bytes must not be the same feature.
const (
	seedWord   uint64 = 0x9e3779b97f4a7c15
	seedBigram uint64 = 0xc2b2ae3d27d4eb4f
	seedChar   uint64 = 0x165667b19e3779f9
	seedHan    uint64 = 0xd6e8feb86659fd93
	seedHanBi  uint64 = 0xa0761d6478bd642f
)

const (
	fnvOffset   = 14695981039346656037
	fnvPrime    = 1099511628211
	maxGramWord = 48 // runes of a word that get character n-grams; longer ones are codes or junk
)

func fnvString(seed uint64, s []byte) uint64 {
	h := uint64(fnvOffset) ^ seed
	for _, c := range s {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

func fnvStr(seed uint64, s string) uint64 {
	h := uint64(fnvOffset) ^ seed
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix is splitmix64's finaliser: FNV's low bits are weak, and both the bucket
// and the sign come from the mixed value.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// hashScratch is reused between texts so embedding allocates only the result.
type hashScratch struct {
	slots []slot  // open-addressing table of features, len a power of two
	used  []int32 // occupied slot indexes, for a cheap reset
	word  []byte  // the current word, lowercased
	pad   []byte  // "<word>"
	offs  []int   // rune offsets in pad
}

type slot struct {
	key uint64 // mixed feature hash; 0 means empty
	n   float32
	w   float32
}

func (s *hashScratch) reset() {
	for _, i := range s.used {
		s.slots[i] = slot{}
	}
	s.used = s.used[:0]
	if len(s.slots) == 0 {
		s.slots = make([]slot, 1024)
	}
}

// add counts one occurrence of feature h with weight w.
func (s *hashScratch) add(h uint64, w float32) {
	if w == 0 {
		return
	}
	h = mix(h)
	if h == 0 {
		h = 1
	}
	if 2*(len(s.used)+1) > len(s.slots) {
		s.grow()
	}
	m := uint64(len(s.slots) - 1)
	for i := h & m; ; i = (i + 1) & m {
		sl := &s.slots[i]
		if sl.key == h {
			sl.n++
			return
		}
		if sl.key == 0 {
			*sl = slot{key: h, n: 1, w: w}
			s.used = append(s.used, int32(i))
			return
		}
	}
}

func (s *hashScratch) grow() {
	old := s.slots
	s.slots = make([]slot, 2*len(old))
	used := s.used
	s.used = make([]int32, 0, 2*cap(used))
	m := uint64(len(s.slots) - 1)
	for _, j := range used {
		o := old[j]
		for i := o.key & m; ; i = (i + 1) & m {
			if s.slots[i].key == 0 {
				s.slots[i] = o
				s.used = append(s.used, int32(i))
				break
			}
		}
	}
}

// vector embeds text using scratch space s (from the pool).
func (h *Hashing) vector(s *hashScratch, text string) []float32 {
	s.reset()
	c := &h.cfg
	var prevWord uint64 // hash of the previous content word, 0 at the start
	prevHan := -1       // byte offset of the previous rune when it was Han
	s.word = s.word[:0]
	flush := func() {
		if len(s.word) == 0 {
			return
		}
		prevWord = h.word(s, prevWord)
		s.word = s.word[:0]
	}
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9'):
			s.word = append(s.word, byte(r))
			prevHan = -1
		case r >= 'A' && r <= 'Z':
			s.word = append(s.word, byte(r+'a'-'A'))
			prevHan = -1
		case r == '.' || r == ',':
			// A decimal point or thousands separator inside a number keeps it whole: 1.25, 10,000.
			if n := len(s.word); n > 0 && isDigit(s.word[n-1]) && i+1 < len(text) && isDigit(text[i+1]) {
				s.word = append(s.word, byte(r))
			} else {
				flush()
			}
			prevHan = -1
		case r >= utf8.RuneSelf && isCJK(r):
			flush()
			if c.KeepStopWords || !terms.EmbedHanStop(r) {
				s.add(fnvStr(seedHan, text[i:i+size]), c.Han)
			}
			if prevHan >= 0 {
				s.add(fnvStr(seedHanBi, text[prevHan:i+size]), c.HanBigram)
			}
			prevHan = i
			// A Chinese word boundary ends an English bigram chain too.
			prevWord = 0
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)):
			s.word = utf8.AppendRune(s.word, unicode.ToLower(r))
			prevHan = -1
		default:
			flush()
			prevHan = -1
		}
		i += size
	}
	flush()

	v := make([]float32, c.Dim)
	dim := uint64(c.Dim)
	var sum float64
	for _, i := range s.used {
		sl := s.slots[i]
		x := sl.w * (1 + float32(math.Log(float64(sl.n))))
		if sl.key>>63 != 0 {
			x = -x
		}
		v[(uint64(uint32(sl.key))*dim)>>32] += x
	}
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum > 0 {
		inv := float32(1 / math.Sqrt(sum))
		for j := range v {
			v[j] *= inv
		}
	}
	return v
}

// word adds the features of the word in s.word and returns the hash that
// chains it to the next word (prev when it is a stop word).
func (h *Hashing) word(s *hashScratch, prev uint64) uint64 {
	c := &h.cfg
	w := s.word
	if !c.KeepStopWords && terms.EmbedStop(w) {
		return prev
	}
	// Character n-grams on the unstemmed word, so "leaking" still shares
	// "<lea" "leak" with "leaked".
	if c.Char > 0 {
		s.pad = append(append(append(s.pad[:0], '<'), w...), '>')
		s.offs = s.offs[:0]
		for j := 0; j < len(s.pad) && len(s.offs) <= maxGramWord; {
			s.offs = append(s.offs, j)
			if s.pad[j] < utf8.RuneSelf {
				j++
			} else {
				_, n := utf8.DecodeRune(s.pad[j:])
				j += n
			}
		}
		nr := len(s.offs)
		s.offs = append(s.offs, len(s.pad))
		if nr > maxGramWord {
			nr = maxGramWord
		}
		for n := c.MinGram; n <= c.MaxGram; n++ {
			for j := 0; j+n <= nr; j++ {
				s.add(fnvString(seedChar, s.pad[s.offs[j]:s.offs[j+n]]), c.Char)
			}
		}
	}
	stem := w
	if !c.NoStem {
		stem = stemEnglish(w)
	}
	hw := fnvString(seedWord, stem)
	s.add(hw, c.Word)
	if prev != 0 {
		s.add((prev*0x100000001b3)^hw^seedBigram, c.Bigram)
	}
	return hw
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// isCJK reports scripts written without spaces between words, which get
// character unigrams and bigrams instead of words.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// stemEnglish strips common English inflections from an ASCII word, in place
// of a full stemmer: plurals, -ing, -ed, and a final -e, so that "replace",
// "replaced", "replaces" and "replacing" meet at "replac". Words with
// non-ASCII letters or digits are left alone.
func stemEnglish(w []byte) []byte {
	for _, b := range w {
		if b < 'a' || b > 'z' {
			return w
		}
	}
	n := len(w)
	if n <= 3 {
		return w
	}
	switch {
	case hasSuffix(w, "ies") && n > 4:
		w = append(w[:n-3], 'y')
		return w
	case hasSuffix(w, "sses"):
		return w[:n-2]
	case hasSuffix(w, "ss") || hasSuffix(w, "us") || hasSuffix(w, "is"):
		return w
	case hasSuffix(w, "ing") && n > 5:
		w = undouble(w[:n-3])
	case hasSuffix(w, "ed") && n > 4:
		w = undouble(w[:n-2])
	case hasSuffix(w, "es") && n > 4 && (w[n-3] == 'x' || w[n-3] == 'h' || w[n-3] == 's' || w[n-3] == 'z'):
		return w[:n-2] // boxes, switches
	case w[n-1] == 's':
		w = w[:n-1]
	}
	if n := len(w); n > 4 && w[n-1] == 'e' {
		w = w[:n-1]
	}
	return w
}

func undouble(w []byte) []byte {
	n := len(w)
	if n > 3 && w[n-1] == w[n-2] && w[n-1] != 'l' && w[n-1] != 's' && w[n-1] != 'z' && !isVowel(w[n-1]) {
		return w[:n-1]
	}
	return w
}

func isVowel(b byte) bool { return b == 'a' || b == 'e' || b == 'i' || b == 'o' || b == 'u' }

func hasSuffix(w []byte, s string) bool {
	return len(w) >= len(s) && string(w[len(w)-len(s):]) == s
}
