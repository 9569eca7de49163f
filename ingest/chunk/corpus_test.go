package chunk

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/testenv"
)

// TestCorpusPageBreaks chunks the real PDF manuals the eval asks about and
// finds each question's evidence in the chunks whose pages include the gold
// page: a chunk over several pages must name, for the evidence's span, pages
// that still include the gold page (or a page the evidence is also at),
// and names fewer pages than the chunk's range whenever it can.
func TestCorpusPageBreaks(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: parses real manuals")
	}
	type place struct {
		Doc  string `json:"doc"`
		Page int    `json:"page"`
	}
	type question struct {
		ID       string   `json:"id"`
		Doc      string   `json:"doc"`
		Page     int      `json:"page"`
		Evidence []string `json:"evidence"`
		AlsoAt   []place  `json:"also_at"`
	}
	byDoc := map[string][]question{}
	for _, set := range []string{"dev.jsonl", "dev-cross.jsonl", "dev-paraphrase.jsonl"} {
		f, err := os.Open(testenv.Shared(t, "../..", filepath.Join("eval", set)))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var q question
			if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
				t.Fatalf("%s: %v", set, err)
			}
			// The 1,335-page manual costs minutes to parse; the others hold
			// questions of the same kinds, English and Chinese.
			if strings.HasSuffix(q.Doc, ".pdf") && q.Page > 0 && q.Doc != "LinuxCNC_Documentation.pdf" {
				byDoc[q.Doc] = append(byDoc[q.Doc], q)
			}
		}
		f.Close()
	}
	p, err := parse.New(context.Background(), parse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var found, spanning, narrowed, kept int
	for name, qs := range byDoc {
		data, err := os.ReadFile(filepath.Join(testenv.Corpus(t, name), name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := p.Parse(context.Background(), name, data, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cs := Split(doc, Options{})
		checkInvariants(t, doc, cs, Options{})
		for _, q := range qs {
			gold := map[int]bool{q.Page: true}
			for _, a := range q.AlsoAt {
				if a.Doc == name {
					gold[a.Page] = true
				}
			}
			for _, c := range cs {
				holds := false
				for pg := range gold {
					holds = holds || c.PageStart <= pg && pg <= c.PageEnd
				}
				if !holds {
					continue
				}
				for _, e := range q.Evidence {
					from, to, ok := find(c.Text, e)
					if !ok {
						continue
					}
					found++
					if c.PageEnd == c.PageStart {
						continue
					}
					spanning++
					a, b := c.Pages(from, to)
					ok = false
					for pg := range gold {
						ok = ok || a <= pg && pg <= b
					}
					if !ok {
						t.Errorf("%s %s: evidence %q in chunk %d (pp. %d-%d, breaks %v) cited as pp. %d-%d, gold %v",
							name, q.ID, e, c.Ord, c.PageStart, c.PageEnd, c.Breaks, a, b, gold)
					}
					if b-a < c.PageEnd-c.PageStart {
						narrowed++
					} else {
						kept++
					}
				}
			}
		}
	}
	t.Logf("evidence found %d times in chunks over the gold page; %d of them in chunks over several pages: %d cited on fewer pages, %d on the chunk's range",
		found, spanning, narrowed, kept)
	if found == 0 {
		t.Fatal("no evidence found: the test checked nothing")
	}
}

// find is where e occurs in text, white space and case ignored (PDF text
// spaces Han characters and breaks lines where the evidence does not).
func find(text, e string) (from, to int, ok bool) {
	var flat strings.Builder
	var at []int
	for i, r := range text {
		if !unicode.IsSpace(r) {
			flat.WriteString(strings.ToLower(string(r)))
			for range len(strings.ToLower(string(r))) {
				at = append(at, i)
			}
		}
	}
	var fe strings.Builder
	for _, r := range e {
		if !unicode.IsSpace(r) {
			fe.WriteString(strings.ToLower(string(r)))
		}
	}
	i := strings.Index(flat.String(), fe.String())
	if i < 0 || fe.Len() == 0 {
		return 0, 0, false
	}
	return at[i], at[i+fe.Len()-1] + 1, true
}
