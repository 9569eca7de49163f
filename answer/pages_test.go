package answer_test

import (
	"strings"
	"testing"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/answer"
	"github.com/shifu-factory/shifu/ingest/chunk"
	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

// homing is a manual whose Homing section runs from p. 36 onto p. 37, cut
// by the real chunker: one chunk over both pages, knowing where p. 37 begins.
func homing(t *testing.T) []shifu.Chunk {
	t.Helper()
	block := func(kind parse.BlockKind, level int, text string, page int) parse.Block {
		return parse.Block{Kind: kind, Level: level, Text: text, Page: page}
	}
	doc := &parse.Doc{Title: "Mill manual", Blocks: []parse.Block{
		block(parse.Heading, 1, "Alarms", 35),
		block(parse.Paragraph, 0, "Alarm E-104 means spindle overload. Reduce the feed rate.", 35),
		block(parse.Heading, 1, "Homing", 36),
		block(parse.Paragraph, 0, "Switch on the main disconnect and wait for the READY lamp. Release the emergency stop button.", 36),
		block(parse.Paragraph, 0, "Close the guard door. To home the machine, press the RESET key and then HOME. "+
			"The control issues the Home-All command and each axis moves to its reference switch.", 37),
		block(parse.Heading, 1, "Lubrication", 38),
		block(parse.Paragraph, 0, "The reservoir holds 2 litres of way oil.", 38),
	}}
	cs := chunk.Split(doc, chunk.Options{})
	for _, c := range cs {
		if strings.HasPrefix(c.Text, "Homing") {
			if c.PageStart != 36 || c.PageEnd != 37 || len(c.Breaks) != 1 {
				t.Fatalf("the Homing chunk is pp. %d-%d with breaks %v, want pp. 36-37 and one break", c.PageStart, c.PageEnd, c.Breaks)
			}
			return cs
		}
	}
	t.Fatalf("no Homing chunk in %+v", cs)
	return nil
}

// homingCitation is the citation of the Homing chunk.
func homingCitation(t *testing.T, a shifu.Answer) shifu.Citation {
	t.Helper()
	for _, c := range a.Citations {
		if c.PageStart >= 36 && c.PageEnd <= 37 {
			return c
		}
	}
	t.Fatalf("no citation of the Homing passage: %+v\n%s", a.Citations, a.Text)
	return shifu.Citation{}
}

// TestExtractiveCitesTheSentencesPage: with no model, a quote from a chunk
// over pp. 36-37 cites the page its sentences are on: p. 37 when they are
// all there, pp. 36-37 when the quote runs over the page break; a chunk
// stored before chunks knew their page breaks cites its range as before.
func TestExtractiveCitesTheSentencesPage(t *testing.T) {
	cs := homing(t)
	f := setupChunks(t, cs)
	s := answer.New(f.db, f.searcher, nil, answer.Options{})

	a, _ := ask(t, s, f, "How do I home the machine?")
	c := homingCitation(t, a)
	if !strings.Contains(a.Text, "Home-All command") || strings.Contains(a.Text, "READY lamp") || strings.Contains(a.Text, "emergency") {
		t.Fatalf("the answer does not quote only p. 37's sentences:\n%s", a.Text)
	}
	if c.Label() != "Mill manual, p. 37" {
		t.Errorf("citation %q (pp. %d-%d, quote %q), want Mill manual, p. 37", c.Label(), c.PageStart, c.PageEnd, c.Quote)
	}

	a, _ = ask(t, s, f, "How do I release the emergency stop?")
	c = homingCitation(t, a)
	if !strings.Contains(a.Text, "Release the emergency stop button.") || !strings.Contains(a.Text, "Close the guard door.") {
		t.Fatalf("want the answer to quote the last sentence of p. 36 and the first of p. 37:\n%s", a.Text)
	}
	if c.Label() != "Mill manual, pp. 36–37" {
		t.Errorf("a quote over the page break cites %q, want Mill manual, pp. 36–37", c.Label())
	}

	// Stored before chunks recorded page breaks (not re-ingested since).
	old := make([]shifu.Chunk, len(cs))
	copy(old, cs)
	for i := range old {
		old[i].Breaks = nil
	}
	f = setupChunks(t, old)
	s = answer.New(f.db, f.searcher, nil, answer.Options{})
	a, _ = ask(t, s, f, "How do I home the machine?")
	if c := homingCitation(t, a); c.Label() != "Mill manual, pp. 36–37" {
		t.Errorf("a chunk without page breaks cites %q, want its range, Mill manual, pp. 36–37", c.Label())
	}
}

// TestModelCitationCitesTheQuotesPage: the model path's citations name the
// page of their verified quote, or of the sentence Shifu picks for a
// citation without one (bestQuote); a quote the passage does not hold
// cites the passage's range.
func TestModelCitationCitesTheQuotesPage(t *testing.T) {
	f := setupChunks(t, homing(t))
	cases := []struct{ reply, label string }{
		{`Press RESET, then HOME [1] "press the RESET key and then HOME".`, "Mill manual, p. 37"},
		{`Then the control issues the Home-All command and each axis moves to its reference switch [1].`, "Mill manual, p. 37"},
		{`First release the emergency stop button [1].`, "Mill manual, p. 36"},
		{`Wait for the lamp, then press RESET [1] "wait for the READY lamp... press the RESET key".`, "Mill manual, pp. 36–37"},
		{`Press the green button [1] "press the green button".`, "Mill manual, pp. 36–37"},
	}
	for _, tc := range cases {
		srv := llmtest.NewServer(t, llmtest.Options{Reply: tc.reply})
		s := answer.New(f.db, f.searcher, chat(t, srv), answer.Options{})
		a, _ := ask(t, s, f, "How do I home the machine?")
		if a.Degraded || len(a.Citations) != 1 {
			t.Fatalf("reply %q: degraded %v, citations %+v", tc.reply, a.Degraded, a.Citations)
		}
		if c := a.Citations[0]; c.Label() != tc.label {
			t.Errorf("reply %q: citation %q (quote %q, verified %v), want %q", tc.reply, c.Label(), c.Quote, c.Verified, tc.label)
		}
	}
}
