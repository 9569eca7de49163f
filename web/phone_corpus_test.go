package web_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// phoneQuestions is how many questions a language TestBrowserPhoneCorpusAnswers
// asks: enough for a median, few enough to keep the test under a minute.
const phoneQuestions = 10

// TestBrowserPhoneCorpusAnswers: with no model, on a 390×844 phone, the
// answer to a typical question about a real manual fits between the header
// and the question box without scrolling (issue 11's "phone first"): the
// median answer's height, per language, over the repository's own questions
// about the corpus manuals, each asked in a fresh chat. Every height is
// logged, so a change that lengthens answers shows here.
func TestBrowserPhoneCorpusAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests real manuals")
	}
	w, qs := corpusWorld(t) // before the browser, whose context has a deadline
	ctx, dir := browser(t, 390, 844)
	do(t, ctx, "login", loginAs(w, "acme", "worker"))
	type box struct{ Height, Room float64 }
	heights, room := map[string][]float64{}, 0.0
	for _, q := range qs {
		if len(heights[q.Lang]) == phoneQuestions {
			continue
		}
		do(t, ctx, "new chat", chromedp.Navigate(w.http.URL+"/?lang="+q.Lang))
		if done, _ := ask(t, ctx, q.Question); done != "1" {
			t.Fatalf("%s: answer ended %q", q.ID, done)
		}
		b := run(t, ctx, "layout", chromedp.Evaluate[box](`(() => {
			const m = document.querySelector('.msg.assistant[data-done]').getBoundingClientRect();
			return { Height: m.height,
				Room: document.getElementById('ask').getBoundingClientRect().top - document.querySelector('header.top').getBoundingClientRect().bottom };
		})()`))
		heights[q.Lang], room = append(heights[q.Lang], b.Height), b.Room
		if b.Height > b.Room {
			shot(t, ctx, dir, "phone-corpus-"+q.ID)
		}
		t.Logf("%s %s: answer %.0f px of %.0f px", q.ID, q.Lang, b.Height, b.Room)
	}
	for lang, hs := range heights {
		slices.Sort(hs)
		fit := 0
		for _, h := range hs {
			if h <= room {
				fit++
			}
		}
		med := hs[len(hs)/2]
		t.Logf("%s: %d of %d answers fit the %.0f px between header and question box; median %.0f px", lang, fit, len(hs), room, med)
		if med > room {
			t.Errorf("%s: the median answer is %.0f px tall; the phone shows %.0f px between header and question box (heights %s)", lang, med, room, fmt.Sprint(hs))
		}
	}
	if len(heights) == 0 {
		t.Fatal("no question asked")
	}
}
