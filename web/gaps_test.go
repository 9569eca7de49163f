package web_test

import (
	"strconv"
	"testing"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

type gapList struct {
	Gaps []shifu.GapGroup `json:"gaps"`
}

type answeredList struct {
	Answered []shifu.Answered `json:"answered"`
}

func num(id int64) string { return strconv.FormatInt(id, 10) }

// openGaps is the supervisor's open gaps by question.
func openGaps(t *testing.T, sup *client, state string) map[string]shifu.GapGroup {
	t.Helper()
	var l gapList
	if code := sup.json("GET", "/api/gaps?state="+state, nil, &l); code != 200 {
		t.Fatalf("gaps: %d", code)
	}
	out := map[string]shifu.GapGroup{}
	for _, g := range l.Gaps {
		out[g.Question] = g
	}
	return out
}

// TestGapsCloseTheLoop: a gap is dismissed (who and when, audited) and the
// dismissal undone; two wordings of one question are merged into one gap;
// a note answering the merged gap is listed for the worker who asked (both
// wordings), once, until they mark it seen; another worker sees nothing.
func TestGapsCloseTheLoop(t *testing.T) {
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: "unused"}})
	worker := w.session("worker")
	// The manuals are empty: each question is abstained on and is a gap.
	for _, q := range []string{"asdfgh qwerty", "How do I reset the AGV after alarm 31?", "AGV alarm 31: how to reset it"} {
		if code, evs := worker.chat(q); code != 200 || !final(t, evs).Abstained {
			t.Fatalf("%q: %d %v", q, code, names(evs))
		}
	}
	// Someone else asked too: their notice is theirs.
	w.gap("how do I reset the AGV after alarm 31?", w.users["admin"])
	sup := w.session("supervisor")
	g := openGaps(t, sup, "open")
	if len(g) != 3 || g["how do I reset the AGV after alarm 31?"].Count != 2 {
		t.Fatalf("open gaps %+v; want 3, the AGV question twice", g)
	}

	// Dismiss, with who and when; it leaves the open list; undo brings it back.
	junk := g["asdfgh qwerty"].ID
	if code := w.session("worker").json("POST", "/api/gaps/"+num(junk)+"/dismiss", nil, nil); code != 403 {
		t.Fatalf("a worker dismissed a gap: %d", code)
	}
	if code := sup.json("POST", "/api/gaps/"+num(junk)+"/dismiss", nil, nil); code != 200 {
		t.Fatalf("dismiss: %d", code)
	}
	if code := sup.json("POST", "/api/gaps/"+num(junk)+"/dismiss", nil, nil); code != 404 {
		t.Fatalf("dismissing twice: %d", code)
	}
	d := openGaps(t, sup, "dismissed")["asdfgh qwerty"]
	if _, open := openGaps(t, sup, "open")["asdfgh qwerty"]; open || d.DismissedBy != "Acme supervisor" || d.DismissedAt == nil {
		t.Fatalf("dismissed gap %+v still open %v", d, open)
	}
	if code := sup.json("POST", "/api/gaps/"+num(junk)+"/reopen", nil, nil); code != 200 {
		t.Fatalf("reopen: %d", code)
	}
	if _, open := openGaps(t, sup, "open")["asdfgh qwerty"]; !open || len(openGaps(t, sup, "dismissed")) != 0 {
		t.Fatal("reopened gap is not open again")
	}
	if code := sup.json("GET", "/api/gaps?state=closed", nil, nil); code != 400 {
		t.Fatalf("unknown state: %d", code)
	}

	// Merge the two wordings of the AGV question into one gap.
	g = openGaps(t, sup, "open")
	into, other := g["AGV alarm 31: how to reset it"].ID, g["how do I reset the AGV after alarm 31?"].ID
	if code := sup.json("POST", "/api/gaps/"+num(into)+"/merge", map[string]any{"ids": []int64{}}, nil); code != 400 {
		t.Fatalf("merge of nothing: %d", code)
	}
	var merged struct{ Gaps int }
	if code := sup.json("POST", "/api/gaps/"+num(into)+"/merge", map[string]any{"ids": []int64{other}}, &merged); code != 200 || merged.Gaps != 2 {
		t.Fatalf("merge: %d %+v", code, merged)
	}
	g = openGaps(t, sup, "open")
	m := g["how do I reset the AGV after alarm 31?"] // the newest wording names the group
	if len(g) != 2 || m.Count != 3 || len(m.Questions) != 3 {
		t.Fatalf("after the merge: %+v; want one AGV gap asked 3 times in 3 wordings", g)
	}
	if code := w.token("bolt").json("POST", "/api/gaps/"+num(into)+"/dismiss", nil, nil); code != 403 && code != 404 {
		t.Fatalf("bolt's admin dismissed acme's gap: %d", code)
	}

	// Nothing is answered yet.
	var a answeredList
	if code := worker.json("GET", "/api/me/answered", nil, &a); code != 200 || len(a.Answered) != 0 {
		t.Fatalf("answered before any note: %d %+v", code, a)
	}
	// A note answers the merged gap: every wording is closed, and the asker is told.
	if code := sup.json("POST", "/api/gaps/"+num(m.ID)+"/note", map[string]any{"fix": "Press RESET on the AGV's panel, then re-home it."}, nil); code != 201 {
		t.Fatalf("answer gap: %d", code)
	}
	if g := openGaps(t, sup, "open"); len(g) != 1 {
		t.Fatalf("open after the note: %+v", g)
	}
	worker.json("GET", "/api/me/answered", nil, &a)
	if len(a.Answered) != 1 || len(a.Answered[0].IDs) != 2 || a.Answered[0].NoteID == 0 || a.Answered[0].Conversation == 0 ||
		a.Answered[0].NoteTitle != m.Question || a.Answered[0].Author != "Acme supervisor" {
		t.Fatalf("worker's answered questions: %+v", a)
	}
	// The link opens a page the web app serves: the note.
	if resp := worker.do("GET", "/documents/"+num(a.Answered[0].NoteID), nil, ""); resp.StatusCode != 302 {
		t.Fatalf("note link: %d", resp.StatusCode)
	}
	var admins answeredList
	w.session("admin").json("GET", "/api/me/answered", nil, &admins)
	if len(admins.Answered) != 1 || len(admins.Answered[0].IDs) != 1 {
		t.Fatalf("the admin asked once: %+v", admins)
	}
	// The admin cannot mark the worker's notice seen; the worker can.
	var seen struct{ Seen int }
	if w.session("admin").json("POST", "/api/me/answered/seen", map[string]any{"ids": a.Answered[0].IDs}, &seen); seen.Seen != 0 {
		t.Fatalf("the admin marked %d of the worker's gaps seen", seen.Seen)
	}
	if code := worker.json("POST", "/api/me/answered/seen", map[string]any{"ids": a.Answered[0].IDs}, &seen); code != 200 || seen.Seen != 2 {
		t.Fatalf("seen: %d %+v", code, seen)
	}
	if worker.json("GET", "/api/me/answered", nil, &a); len(a.Answered) != 0 {
		t.Fatalf("answered after seen: %+v", a)
	}

	// Every step is in the audit log.
	var audit struct{ Audit []struct{ Action string } }
	w.session("admin").json("GET", "/api/audit", nil, &audit)
	have := map[string]bool{}
	for _, e := range audit.Audit {
		have[e.Action] = true
	}
	for _, want := range []string{"gap.dismiss", "gap.reopen", "gap.merge", "note.add"} {
		if !have[want] {
			t.Errorf("audit lacks %s: %+v", want, audit.Audit)
		}
	}
}
