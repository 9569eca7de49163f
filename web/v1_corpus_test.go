package web_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/answer"
	"github.com/shifu-factory/shifu/retrieval"
)

// v1FactFloor is the share of questions whose fact /v1 must show, per
// language: what the extractive answers reach over these questions and
// manuals (en 16 of 24, zh 11 of 29), so a change that hides more facts
// fails. Choosing sentences across passages (answer's fill) cost one
// English question here against choosing the best passage first (12 of
// 16 on own-en to own-en3); over every held-out question on the whole
// corpus it is neutral in English and a gain in Chinese (issue 11), so the
// floor follows the larger measure. Issue 11's target is 0.85 in each language; the figures and the
// misses are logged.
var v1FactFloor = map[string]float64{"en": 0.65, "zh": 0.35}

// TestV1ExtractiveAnswersOverCorpus judges /v1/chat/completions as the
// held-out judge does: real manuals from the eval corpus (the small ones:
// the Integrator PDF, the G-code and KiCad HTML), no model, a worker's
// bearer token, and the repository's own questions about those manuals. The
// fact (an evidence string, by ../shared/eval/README.md's normalisation)
// counts only in the message content before its sources list, in an answer
// of at most answer.MaxFactChars characters; it must never appear only in
// the sources list.
func TestV1ExtractiveAnswersOverCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests real manuals")
	}
	w, qs := corpusWorld(t)
	cl := openai.NewClient(option.WithBaseURL(w.http.URL+"/v1/"), option.WithAPIKey(w.tokens["worker"]), option.WithMaxRetries(0))
	shown, asked := map[string]int{}, map[string]int{}
	for _, q := range qs {
		resp, err := cl.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "shifu",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(q.Question)}})
		if err != nil {
			t.Fatalf("%s: %v", q.ID, err)
		}
		text := resp.Choices[0].Message.Content
		body, sources, _ := strings.Cut(text, "**Sources**")
		asked[q.Lang]++
		ok := len([]rune(body)) <= answer.MaxFactChars && answer.Shows(q, body)
		if ok {
			shown[q.Lang]++
		} else {
			t.Logf("%s: fact not shown: %s\n%s", q.ID, q.Question, text)
		}
		if !ok && answer.Shows(q, sources) {
			t.Errorf("%s: the fact is only in the sources list:\n%s", q.ID, text)
		}
	}
	for lang, n := range asked {
		share := float64(shown[lang]) / float64(n)
		t.Logf("%s: fact shown through /v1 in %d of %d answers (%.2f)", lang, shown[lang], n, share)
		if share < v1FactFloor[lang] {
			t.Errorf("%s: fact shown in %.2f of answers through /v1; want at least %.2f", lang, share, v1FactFloor[lang])
		}
	}
}

// corpusDocs are the eval corpus's small manuals, which the corpus tests
// ingest whole.
var corpusDocs = []string{"LinuxCNC_Integrator.pdf", "gcode.html", "pcbnew.html"}

// corpusWorld is a world with no model and corpusDocs ingested, with the
// answerable questions of the repository's own sets about them, in the
// sets' order.
func corpusWorld(t *testing.T) (*world, []retrieval.EvalQuestion) {
	t.Helper()
	var files []part
	for _, d := range corpusDocs {
		files = append(files, part{"file", d, readAll(t, corpusDoc(t, d))})
	}
	var qs []retrieval.EvalQuestion
	sets, _ := filepath.Glob("../retrieval/testdata/own-*.jsonl")
	for _, f := range sets {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all, err := retrieval.ReadQuestions(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, q := range all {
			if q.Answerable && slices.Contains(corpusDocs, q.Doc) {
				qs = append(qs, q)
			}
		}
	}
	if len(qs) < 10 {
		t.Fatalf("%d questions about %v in the own sets; want at least 10", len(qs), corpusDocs)
	}
	w := newWorld(t, worldOpts{noModel: true})
	code, out := w.token("supervisor").upload("/api/documents", files...)
	if code != http.StatusOK {
		t.Fatalf("upload: %d %v", code, out)
	}
	var ids []int64
	for _, f := range out["files"].([]any) {
		ids = append(ids, int64(f.(map[string]any)["document"].(map[string]any)["id"].(float64)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // a busy machine parses slowly
	defer cancel()
	ready, err := w.ingest.Wait(ctx, w.acme.ID, w.newest(ids), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ready {
		if d.Status != shifu.StatusReady {
			t.Fatalf("%s: %s %s", d.Name, d.Status, d.Error)
		}
	}
	return w, qs
}
