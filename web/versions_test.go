package web_test

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

// TestRevisionKeepsIDAndCitations: a new revision keeps the document's id
// and both versions; a citation stored before the revision still opens the
// page of the version it cited and says a newer one exists; each version
// downloads under its own name; rollback makes version 1 live again; the
// links bots send open.
func TestRevisionKeepsIDAndCitations(t *testing.T) {
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: "Use a **shielded cable** [1]."}})
	pdf, err := os.ReadFile("testdata/sample.pdf")
	if err != nil {
		t.Fatal(err)
	}
	ids := w.ingestReady(part{"file", "spindle.pdf", pdf})
	id := jsonNum(ids[0])
	worker, sup := w.session("worker"), w.session("supervisor")

	_, evs := worker.chat("How do I connect the spindle drive to the controller?")
	cited := final(t, evs).Citations
	if len(cited) == 0 || cited[0].DocID != ids[0] || cited[0].Version != 1 || cited[0].PageStart == 0 {
		t.Fatalf("citations before the revision: %+v", cited)
	}
	page := "/api/documents/" + id + "/pages/" + strconv.Itoa(cited[0].PageStart) + ".png?w=300&v=" + strconv.Itoa(cited[0].Version)

	// Revision B: the same manual with a trailer, under the file's own name.
	revB := append(append([]byte{}, pdf...), []byte("\n% revision B\n")...)
	code, out := sup.upload("/api/documents/"+id+"/revision", part{"revision", "", []byte("B")}, part{"file", "spindle-rev-b.pdf", revB})
	files, _ := out["files"].([]any)
	if code != http.StatusOK || len(files) != 1 {
		t.Fatalf("revision: %d %v", code, out)
	}
	doc := files[0].(map[string]any)["document"].(map[string]any)
	if jsonNum(int64(doc["id"].(float64))) != id || doc["version"].(float64) != 2 || doc["name"] != "spindle-rev-b.pdf" {
		t.Fatalf("revision stored as %v", doc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := w.ingest.Wait(ctx, w.acme.ID, w.newest(ids), nil); err != nil {
		t.Fatal(err)
	}
	var d struct {
		ID       int64
		Version  int
		Name     string
		Status   string
		Versions []shifu.Version
	}
	if code := sup.json("GET", "/api/documents/"+id, nil, &d); code != 200 || d.ID != ids[0] || d.Version != 2 || d.Status != "ready" ||
		len(d.Versions) != 2 || d.Versions[0].Name != "spindle.pdf" || d.Versions[0].Status != shifu.StatusArchived || d.Versions[1].Revision != "B" {
		t.Fatalf("after the revision: %d %+v", code, d)
	}

	// The stored citation, read back from its conversation, opens version 1.
	var conv struct {
		Messages []struct {
			Citations []shifu.Citation
		}
	}
	if code := worker.json("GET", "/api/conversations/"+jsonNum(final(t, evs).ConversationID), nil, &conv); code != 200 {
		t.Fatalf("conversation: %d", code)
	}
	var stored shifu.Citation
	for _, m := range conv.Messages {
		if len(m.Citations) > 0 {
			stored = m.Citations[0]
		}
	}
	if stored.DocID != ids[0] || stored.Version != 1 {
		t.Fatalf("stored citation: %+v", stored)
	}
	resp := worker.do("GET", page, nil, "")
	if b := readBody(t, resp); resp.StatusCode != 200 || len(b) == 0 || resp.Header.Get("X-Shifu-Version") != "1" || resp.Header.Get("X-Shifu-Live-Version") != "2" {
		t.Fatalf("cited page after the revision: %d, version %q, live %q", resp.StatusCode, resp.Header.Get("X-Shifu-Version"), resp.Header.Get("X-Shifu-Live-Version"))
	}

	// Each version downloads under its own name.
	for v, name := range map[string]string{"": "spindle-rev-b.pdf", "?v=1": "spindle.pdf", "?v=2": "spindle-rev-b.pdf"} {
		resp := worker.do("GET", "/api/documents/"+id+"/original"+v, nil, "")
		b := readBody(t, resp)
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), `filename=`+name) ||
			(v == "?v=1") != (b == string(pdf)) {
			t.Fatalf("original%s: %d %q", v, resp.StatusCode, resp.Header.Get("Content-Disposition"))
		}
	}
	if code := worker.json("GET", "/api/documents/"+id+"/original?v=9", nil, nil); code != 404 {
		t.Fatalf("version 9: %d", code)
	}

	// The links bots send open the version cited.
	resp = worker.do("GET", "/documents/"+id+"?v=1", nil, "")
	readBody(t, resp)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/api/documents/"+id+"/original?v=1" {
		t.Fatalf("/documents/%s?v=1: %d %q", id, resp.StatusCode, resp.Header.Get("Location"))
	}

	// Rollback, audited.
	if code := sup.json("POST", "/api/documents/"+id+"/revert", map[string]any{"version": 1}, &d); code != 200 || d.Version != 1 || d.Status != "ready" {
		t.Fatalf("revert: %d %+v", code, d)
	}
	if code := sup.json("POST", "/api/documents/"+id+"/revert", map[string]any{"version": 0}, nil); code != 400 {
		t.Fatalf("revert to 0: %d", code)
	}
	if _, evs := worker.chat("How do I connect the spindle drive to the controller?"); len(final(t, evs).Citations) == 0 || final(t, evs).Citations[0].Version != 1 {
		t.Fatalf("after rollback: %+v", final(t, evs).Citations)
	}
	if code := worker.json("POST", "/api/documents/"+id+"/revert", map[string]any{"version": 2}, nil); code != 403 {
		t.Fatalf("a worker rolled back: %d", code)
	}
}
