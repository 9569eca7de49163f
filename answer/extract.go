package answer

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"unicode"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/prompts"
	"github.com/shifu-factory/shifu/retrieval"
)

// An extractive answer quotes the sentences of the passages that answer the
// question, not the passages' openings: a worker on a phone reads the fact
// first and the source under it. Sentences and table rows are scored with
// retrieval's own term weights (retrieval.Weigher), so the sentence shown is
// judged by the rule that found the passage.

// Limits of an extractive answer, measured with `shifu eval --answers` on
// the dev and own sets (fact shown against median length). A Chinese
// sentence is shorter in characters, so more of them fit in fewer.
const (
	maxSources    = 2   // passages quoted
	maxUnitChars  = 320 // a longer sentence is cut
	maxItemChars  = 200 // a longer list item is split into its sentences
	extractSearch = 5   // passages whose sentences are scored
	rankPrior     = 0.08
	contextWeight = 1.0 // a sentence's score counts its neighbours' this much
	nearBest      = 0.3 // more sentences: at least this share of the best
	otherLang     = 0.8 // a passage in another language than the question's
	topicShare    = 0.5 // a term every sentence of a passage holds counts this much less
	headingShare  = 0.6 // a term of the passage's heading counts this much
	fragmentShare = 0.5 // a label's score, for an English question (fragment)
)

// limit is what an extractive answer may quote: sentences (or table rows)
// and characters in all, and a sentence of a passage not yet quoted must
// score at least second times the best. A Chinese sentence is shorter in
// characters, so more of them fit in fewer; and a Chinese question's answer
// is more often in another passage than the best sentence's.
type limit struct {
	units, chars int
	second       float64
}

func limits(lang string) limit {
	if lang == "zh" {
		return limit{units: 8, chars: 550, second: 0.3}
	}
	return limit{units: 5, chars: 520, second: 0.6}
}

// unit is one sentence or table row of a passage.
type unit struct {
	text   string
	header string // a table row's header row; "" for a sentence
	score  float64
	pos    int
	// terms and head are text and header as the index cuts them
	// (retrieval.Weigher.Analyse), analysed once however often weighed.
	terms, head map[string]bool
}

// units splits a passage's body into sentences and table rows; a table is
// a run of two or more lines with the same number of " | " cells, its first
// line the header.
func units(body string) []unit {
	lines := strings.Split(body, "\n")
	var out []unit
	var prose strings.Builder
	flush := func() {
		for _, s := range shifu.Sentences(prose.String()) {
			out = append(out, unit{text: s, pos: len(out)})
		}
		prose.Reset()
	}
	// A short list item is one unit: its sentences say one thing ("0x06 -
	// SLAVE_DEVICE_BUSY - The slave is BUSY. Retransmit the request later.").
	item := func(line string) bool {
		t := strings.TrimSpace(line)
		if !(strings.HasPrefix(t, "• ") || strings.HasPrefix(t, "– ")) || len([]rune(t)) > maxItemChars {
			return false
		}
		flush()
		out = append(out, unit{text: strings.Join(strings.Fields(t), " "), pos: len(out)})
		return true
	}
	for i := 0; i < len(lines); {
		n := cells(lines[i])
		j := i + 1
		for n > 1 && j < len(lines) && cells(lines[j]) == n {
			j++
		}
		if n > 1 && j-i >= 2 {
			flush()
			header := strings.TrimSpace(lines[i])
			for _, row := range lines[i+1 : j] {
				out = append(out, unit{text: strings.TrimSpace(row), header: header, pos: len(out)})
			}
			i = j
			continue
		}
		if !item(lines[i]) {
			prose.WriteString(lines[i])
			prose.WriteString("\n")
		}
		i++
	}
	flush()
	return out
}

// dedupe drops a unit repeated word for word in the passage (a man page
// repeats "This must be set before …" under every parameter).
func dedupe(us []unit) []unit {
	seen := map[string]bool{}
	out := us[:0]
	for _, u := range us {
		if seen[u.text] {
			continue
		}
		seen[u.text] = true
		u.pos = len(out)
		out = append(out, u)
	}
	return out
}

func cells(line string) int {
	if !strings.Contains(line, " | ") {
		return 0
	}
	return strings.Count(line, " | ") + 1
}

// pick is a passage with the units quoted from it.
type pick struct {
	p     passage
	units []unit
	best  float64
}

// extract chooses what to quote from the first extractSearch passages: see
// scored for how each sentence is scored and fill for how they are chosen.
func extract(question, lang string, w *retrieval.Weigher, ps []passage) []pick {
	cands := scored(question, lang, w, ps)
	if len(cands) == 0 {
		return nil
	}
	return fill(lang, cands)
}

// scored splits the first extractSearch passages into units and scores each
// against the question; it returns the passages with a unit that scores.
func scored(question, lang string, w *retrieval.Weigher, ps []passage) []pick {
	q := tokens(question)
	var cands []pick
	for i, p := range ps {
		if i == extractSearch {
			break
		}
		us := dedupe(units(p.hit.Body()))
		heads := map[string]map[string]bool{}
		for k := range us {
			us[k].terms = w.Analyse(us[k].text)
			if h := us[k].header; h != "" {
				if heads[h] == nil {
					heads[h] = w.Analyse(h)
				}
				us[k].head = heads[h]
			}
		}
		// cover is the share of the question the units from..to hold, a
		// table row with its header; without term weights (no Weigher),
		// the share of the question's words.
		cover := func(from, to int, rows bool) float64 {
			if w == nil {
				var s strings.Builder
				for j := from; j <= to; j++ {
					if rows || us[j].header == "" {
						s.WriteString(us[j].header + "\n" + us[j].text + "\n")
					}
				}
				return float64(overlap(q, tokens(s.String()))) / float64(max(len(q), 1))
			}
			have := map[string]bool{}
			for j := from; j <= to; j++ {
				if rows || us[j].header == "" {
					maps.Copy(have, us[j].terms)
					maps.Copy(have, us[j].head)
				}
			}
			return w.Covers(have)
		}
		own := local(w, p.hit.Heading, us, cover)
		prior := 1 - rankPrior*float64(i)
		if lang != "" && p.hit.Language != "" && p.hit.Language != lang {
			// A worker reads a passage in the question's language first:
			// another language's passage must score clearly better.
			prior *= otherLang
		}
		best := 0.0
		for k := range us {
			// A sentence is judged with its neighbours a little: the
			// answer is often the sentence after the one naming the topic.
			ctx := 0.0
			if us[k].header == "" {
				ctx = cover(max(k-1, 0), min(k+1, len(us)-1), false)
			}
			us[k].score = prior * (own[k] + contextWeight*ctx) / (1 + contextWeight)
			if lang == "en" && us[k].header == "" && fragment(us[k].text) {
				us[k].score *= fragmentShare
			}
			best = max(best, us[k].score)
		}
		if best > 0 {
			cands = append(cands, pick{p: p, units: us, best: best})
		}
	}
	return cands
}

// ref is one unit of one candidate passage.
type ref struct{ c, u int }

// fill chooses the units to quote from one list of the units of all the
// candidate passages, best first (a unit's score carries its passage's rank
// prior): the best unit and the one after it (the sentence after the one
// naming the topic often holds the fact), then the next best wherever it
// is, down to nearBest of the best, within the limits and maxSources
// passages. Choosing across passages rather than best passage first
// quotes the fact sentence of a lower passage over a weaker sentence of the
// first, and replaces the rule that a second passage must add question
// terms the first lacks (tuning sets, issue 11: zh fact shown 0.564 ->
// 0.628, en 0.494 -> 0.481; held-out sets: zh 0.314 -> 0.353, en 0.290 ->
// 0.355; over every held-out question, own-en4 and own-zh5 included, zh
// 19 -> 23 of 76 and en 29 -> 29 of 60: a Chinese gain, neutral in
// English; medians under 600 characters). The passages come in the order of
// their best unit, each's units in reading order.
func fill(lang string, cands []pick) []pick {
	var all []ref
	for ci, c := range cands {
		for ui := range c.units {
			if c.units[ui].score > 0 {
				all = append(all, ref{ci, ui})
			}
		}
	}
	score := func(r ref) float64 { return cands[r.c].units[r.u].score }
	// Best first; retrieval's order breaks ties (stable sort).
	sort.SliceStable(all, func(i, j int) bool { return score(all[i]) > score(all[j])+1e-9 })
	top := all[0]
	// The limits follow the language quoted, not asked: English quoted for
	// a Chinese question is as long as English quoted for an English one.
	quoted := cands[top.c].p.hit.Language
	if quoted == "" {
		quoted = lang
	}
	f := filler{cands: cands, lim: limits(quoted), best: score(top), take: map[int]map[int]bool{},
		seen: map[string]bool{}, texts: map[string]bool{}}
	f.left, f.budget = f.lim.units, f.lim.chars
	f.add(top)
	c := cands[top.c]
	if u := c.units[top.u]; u.header == "" && top.u+1 < len(c.units) && c.units[top.u+1].header == "" &&
		!strings.HasSuffix(u.text, "?") && !strings.HasSuffix(u.text, "？") {
		f.add(ref{top.c, top.u + 1})
	}
	for _, r := range all[1:] {
		if score(r) < nearBest*f.best || f.left == 0 || f.budget <= 0 {
			break
		}
		f.add(r)
	}
	return f.picks()
}

// filler is the state of fill: what is taken and what is left.
type filler struct {
	cands        []pick
	lim          limit
	best         float64
	left, budget int
	take         map[int]map[int]bool // units taken, by passage
	order        []int                // passages in the order first quoted
	seen, texts  map[string]bool      // unit texts and passage texts quoted
}

func (f *filler) size(r ref) int {
	return min(len([]rune(f.cands[r.c].units[r.u].text)), maxUnitChars)
}

// add takes r if it fits: a unit quoted already (overlapping chunks) is not
// repeated, and a new passage must not be a copy of one quoted, nor past
// maxSources, nor its unit far below the best (unrelated text).
func (f *filler) add(r ref) {
	u := f.cands[r.c].units[r.u]
	if f.left == 0 || f.seen[u.text] || f.take[r.c][r.u] {
		return
	}
	if len(f.order) > 0 && f.size(r) > f.budget {
		return
	}
	if f.take[r.c] == nil {
		if len(f.order) == maxSources || f.texts[f.cands[r.c].p.hit.Text] ||
			len(f.order) > 0 && u.score < f.lim.second*f.best {
			return
		}
		f.take[r.c] = map[int]bool{}
		f.order = append(f.order, r.c)
		f.texts[f.cands[r.c].p.hit.Text] = true
	}
	f.take[r.c][r.u] = true
	f.seen[u.text] = true
	f.budget -= f.size(r)
	f.left--
}

// picks returns the passages quoted, each with its units in reading order,
// a long one cut.
func (f *filler) picks() []pick {
	out := make([]pick, 0, len(f.order))
	for _, ci := range f.order {
		c := f.cands[ci]
		var us []unit
		for ui, u := range c.units {
			if f.take[ci][ui] {
				if len([]rune(u.text)) > maxUnitChars {
					u.text = cut(u.text, maxUnitChars, " ，,；;")
				}
				us = append(us, u)
			}
		}
		c.units = us
		out = append(out, c)
	}
	return out
}

// why says why no model answer is given.
type why int

const (
	noModel     why = iota // none configured
	modelFailed            // configured, but it failed or timed out
	cutOff                 // it failed after part of its answer streamed
)

// notice is the one line an extractive answer ends with.
func notice(lang string, w why) string {
	switch {
	case lang == "zh" && w == noModel:
		return "（未配置模型：以上是手册原文。）"
	case lang == "zh" && w == cutOff:
		return "（模型回答中断：以上是手册原文。）"
	case lang == "zh":
		return "（模型暂时无法回答：以上是手册原文。）"
	case w == noModel:
		return "(No model is configured: these are the manuals' own words.)"
	case w == cutOff:
		return "(The model's answer was cut off: these are the manuals' own words.)"
	}
	return "(The model could not answer just now: these are the manuals' own words.)"
}

// zhLead introduces English manual text quoted for a Chinese question: the
// words are the manual's, untranslated, and say so.
const zhLead = "手册原文（英文）："

// maxGlosses is how many of the question's words a gloss line pairs with
// the quote's: the few a worker looks for, in a line a phone shows whole.
const maxGlosses = 4

// glossLine pairs the words of a Chinese question with the English words
// of the quote that translate them (回零 = home), the translations search
// used: the worker finds their own words in the manual's, and nothing is
// translated that the quote does not say. A word glossed for an earlier
// quote (done) is not glossed again; "" when no new word is.
func glossLine(w *retrieval.Weigher, us []unit, done map[string]bool) string {
	var text strings.Builder
	for _, u := range us {
		text.WriteString(u.header + "\n" + u.text + "\n")
	}
	var pairs []string
	for _, g := range w.Glosses(text.String(), maxGlosses) {
		if !done[g.Word] {
			done[g.Word] = true
			pairs = append(pairs, g.Word+" = "+g.Manual)
		}
	}
	if len(pairs) == 0 {
		return ""
	}
	return GlossLead + strings.Join(pairs, "；")
}

// GlossLead begins the gloss line (the web shows it as a note, not a quote).
const GlossLead = "词语对照："

// degraded answers with the manuals' own sentences when no model answer is
// available. The text is plain: manual text is quoted as written (a path
// with ~ or * stays as it is) and the web renders it escaped, never as
// Markdown; a table row is given as a small table under its header row.
func degraded(question, lang string, w *retrieval.Weigher, ps []passage, cause why) shifu.Answer {
	a := shifu.Answer{Degraded: true, PromptVersion: prompts.Version, Citations: []shifu.Citation{}}
	picks := extract(question, lang, w, ps)
	if len(picks) == 0 && len(ps) > 0 {
		// Nothing scores (a question of stop words only): the best passage's opening.
		picks = []pick{{p: ps[0], units: []unit{{text: excerpt(ps[0].hit, 300)}}}}
	}
	var b strings.Builder
	glossed := map[string]bool{} // the question's words glossed so far
	english := false             // the quote before was English for a Chinese question
	for i, pk := range picks {
		n := i + 1
		// The citation quotes the best of them, for the viewer to highlight,
		// and cites the pages of all of them (a passage over pp. 36-37 cites
		// p. 37 when the sentences quoted are there).
		best := pk.units[0]
		for _, u := range pk.units {
			if u.score > best.score {
				best = u
			}
		}
		other := lang == "zh" && !han(pk.units)
		if other {
			// The lead once for English quotes that follow each other: on
			// a phone every line counts.
			if !english {
				b.WriteString(zhLead + "\n")
			}
			if g := glossLine(w, pk.units, glossed); g != "" {
				b.WriteString(g + "\n")
			}
		}
		english = other
		var lines []string
		// The section a quote is from says what it is about ("G43.2 Apply
		// additional Tool Length Offset" answers "which G-code adds an
		// offset?"), unless the quote says it already.
		if sec := pk.p.hit.Section(); sec != "" && !quotes(pk.units, sec) {
			lines = append(lines, sec+":")
		}
		header, prev := "", -2
		for _, u := range pk.units {
			switch {
			case u.header != "" && u.header != header:
				if len(lines) > 0 {
					lines = append(lines, "")
				}
				header = u.header
				lines = append(lines, "| "+header+" |", "|"+strings.Repeat(" --- |", cells(header)), "| "+u.text+" |")
			case u.header != "":
				lines = append(lines, "| "+u.text+" |")
			case header == "" && prev == u.pos-1 && len(lines) > 0:
				// The next sentence: one quotation.
				lines[len(lines)-1] = strings.TrimSuffix(lines[len(lines)-1], "”") + " " + u.text + "”"
			default:
				if header != "" {
					lines = append(lines, "")
					header = ""
				}
				lines = append(lines, "“"+u.text+"”")
			}
			prev = u.pos
		}
		if header != "" {
			lines = append(lines, "")
		}
		last := len(lines) - 1
		if header != "" {
			lines[last] = fmt.Sprintf("[%d]", n)
		} else {
			lines[last] += fmt.Sprintf(" [%d]", n)
		}
		b.WriteString(strings.Join(lines, "\n") + "\n\n")
		// Its pages are those of all the sentences quoted from the passage.
		shown := make([]string, len(pk.units))
		for k, u := range pk.units {
			shown[k] = u.text
		}
		c := citation(passage{n: n, hit: pk.p.hit}, best.text, true, shown...)
		a.Citations = append(a.Citations, c)
	}
	b.WriteString(notice(lang, cause))
	a.Text = b.String()
	return a
}

// han reports whether the quoted units are mostly Chinese.
func han(us []unit) bool {
	h, l := 0, 0
	for _, u := range us {
		for _, r := range u.text {
			switch {
			case unicode.Is(unicode.Han, r):
				h++
			case unicode.IsLetter(r):
				l++
			}
		}
	}
	return h*3 >= l
}

// local scores each of a passage's sentences by the question's terms it
// holds, each weighed by retrieval's weight times how little of the passage
// it is about: a term of the passage's heading, or one that most of its
// sentences hold, names the topic that found the passage, not the sentence
// that answers (a one-shot timer's page says "one-shot" in its title
// sentence; the answer says what the input does while it runs).
func local(w *retrieval.Weigher, heading string, us []unit, cover func(from, to int, rows bool) float64) []float64 {
	out := make([]float64, len(us))
	if w == nil {
		for k := range us {
			out[k] = cover(k, k, true)
		}
		return out
	}
	sets := make([]map[string]bool, len(us))
	n := map[string]int{}
	for k, u := range us {
		sets[k] = w.Held(u.terms)
		if u.head != nil {
			maps.Copy(sets[k], w.Held(u.head))
		}
		for term := range sets[k] {
			n[term]++
		}
	}
	head := w.Terms(heading)
	for k := range us {
		got := 0.0
		for term := range sets[k] {
			f := 1 - topicShare*float64(n[term]-1)/float64(max(len(us)-1, 1))
			if head[term] {
				f *= headingShare
			}
			got += f * w.Weight(map[string]bool{term: true})
		}
		// What the sentence covers beyond whole terms (a word's characters
		// standing in for it) counts as it is.
		out[k] = got + max(cover(k, k, true)-w.Weight(sets[k]), 0)
	}
	return out
}

// quotes reports whether one of us holds s.
func quotes(us []unit, s string) bool {
	for _, u := range us {
		if strings.Contains(u.text, s) {
			return true
		}
	}
	return false
}

// fragment reports whether an English unit is a label, not a sentence:
// fewer than six words and no closing stop ("Manufacturer Model Step Time",
// the head of a table the splitter did not see as one; "Shortcut ESC").
// Its question words are there without the fact, so for an English
// question it counts fragmentShare (tuning sets, issue 11: en fact shown
// 0.481 -> 0.506, held-out unchanged). A Chinese question meets English
// through its translations, and there a short label is often the page's
// only English for the word asked (zh 0.628 -> 0.603), so it is not judged.
func fragment(t string) bool {
	f := strings.Fields(t)
	if len(f) == 0 {
		return true
	}
	last := strings.TrimRight(f[len(f)-1], `"'”’)]`)
	return len(f) < 6 && !strings.HasSuffix(last, ".") && !strings.HasSuffix(last, "!") && !strings.HasSuffix(last, "?")
}
