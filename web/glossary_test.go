package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
)

// TestGlossaryOnTheDesk: a supervisor adds the plant's word for something
// on the desk, and a worker's question in that word finds the manual at
// once (no re-ingest); bad entries are refused saying what is accepted, a
// worker may not edit, another tenant neither sees nor removes the entry;
// adding and removing are audited under the supervisor's name.
func TestGlossaryOnTheDesk(t *testing.T) {
	w := newWorld(t, worldOpts{noModel: true})
	w.ingestReady(part{field: "file", name: "setter.md", data: []byte("# Tool setter\n\n" +
		"Calibrate the tool setter every shift: jog the spindle over the tool setter, press Touch Off, " +
		"and enter the tool setter height of 52.40 mm printed on its label.\n")})
	worker, sup := w.session("worker"), w.session("supervisor")
	const q = "小黄盒怎么校准？"
	if _, evs := worker.chat(q); !final(t, evs).Abstained {
		t.Fatalf("answered before the plant's word was known: %+v", final(t, evs))
	}

	for _, bad := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"term": " ", "means": "tool setter"}, "both the term and what it means"},
		{map[string]any{"term": "小黄盒", "means": strings.Repeat("x", 201)}, "200"},
		{map[string]any{"term": "小黄盒", "means": 7}, `"means"`},
	} {
		var e struct{ Error string }
		if code := sup.json("POST", "/api/glossary", bad.body, &e); code != 400 || !strings.Contains(e.Error, bad.want) {
			t.Errorf("%v: %d %q; want 400 naming %s", bad.body, code, e.Error, bad.want)
		}
	}
	entry := map[string]any{"term": " 小黄盒 ", "means": "tool setter"}
	if code := worker.json("POST", "/api/glossary", entry, nil); code != 403 {
		t.Fatalf("a worker added to the glossary: %d", code)
	}
	var e shifu.GlossaryEntry
	if code := sup.json("POST", "/api/glossary", entry, &e); code != 201 || e.ID == 0 || e.Term != "小黄盒" || e.AddedBy != "Acme supervisor" {
		t.Fatalf("add: %d %+v", code, e)
	}
	if code := sup.json("POST", "/api/glossary", entry, nil); code != 409 {
		t.Errorf("the same entry twice: %d, want 409", code)
	}
	var l struct{ Glossary []shifu.GlossaryEntry }
	if code := sup.json("GET", "/api/glossary", nil, &l); code != 200 || len(l.Glossary) != 1 || l.Glossary[0] != e {
		t.Fatalf("list: %d %+v, want [%+v]", code, l.Glossary, e)
	}

	// Search reuses a tenant's glossary for a few seconds (retrieval's
	// glossaryTTL): the new word applies within them.
	f := until(t, func(f finalAnswer) bool { return !f.Abstained }, worker, q)
	if f.Abstained || len(f.Citations) == 0 || f.Citations[0].Document != "setter.md" || !strings.Contains(f.Answer, "52.40 mm") {
		t.Fatalf("with the plant's word: %+v", f)
	}

	bolt := w.session("bolt")
	if bolt.json("GET", "/api/glossary", nil, &l); len(l.Glossary) != 0 {
		t.Errorf("another tenant sees %+v", l.Glossary)
	}
	if code := bolt.json("DELETE", "/api/glossary/"+num(e.ID), nil, nil); code != 404 {
		t.Errorf("another tenant removed it: %d", code)
	}
	if code := sup.json("DELETE", "/api/glossary/"+num(e.ID), nil, nil); code != 200 {
		t.Fatalf("remove: %d", code)
	}
	if code := sup.json("DELETE", "/api/glossary/"+num(e.ID), nil, nil); code != 404 {
		t.Errorf("removed twice: %d", code)
	}
	if f := until(t, func(f finalAnswer) bool { return f.Abstained }, worker, q); !f.Abstained {
		t.Errorf("still answered after the word was removed: %+v", f)
	}

	var audit struct {
		Audit []struct {
			Action, Login string
			Detail        map[string]any
		}
	}
	w.session("admin").json("GET", "/api/audit", nil, &audit)
	seen := map[string]bool{}
	for _, a := range audit.Audit {
		if strings.HasPrefix(a.Action, "glossary.") && a.Login == "supervisor" && a.Detail["term"] == "小黄盒" {
			seen[a.Action] = true
		}
	}
	if !seen["glossary.add"] || !seen["glossary.remove"] {
		t.Errorf("audit: %+v; want glossary.add and glossary.remove by supervisor naming the term", audit.Audit)
	}
}

// until asks q until ok holds of the answer, for at most 20 s, and returns
// the last answer.
func until(t *testing.T, ok func(finalAnswer) bool, c *client, q string) finalAnswer {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		_, evs := c.chat(q)
		if f := final(t, evs); ok(f) || time.Now().After(end) {
			return f
		}
	}
}
