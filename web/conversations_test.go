package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

// followUp asks q in conversation conv and returns the final answer (or the
// HTTP status / error event when there is none).
func (c *client) followUp(q string, conv int64) (finalAnswer, string) {
	c.w.t.Helper()
	b, _ := json.Marshal(map[string]any{"question": q, "conversation_id": conv})
	resp := c.do("POST", "/api/chat", bytes.NewReader(b), "application/json")
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, block := range strings.Split(string(raw), "\n\n") {
		if d, ok := strings.CutPrefix(block, "event: final\ndata: "); ok {
			var f finalAnswer
			if err := json.Unmarshal([]byte(d), &f); err != nil {
				c.w.t.Fatal(err)
			}
			return f, ""
		}
	}
	return finalAnswer{}, string(raw)
}

type conversationList struct {
	Conversations []struct {
		ID           int64     `json:"id"`
		Title        string    `json:"title"`
		Channel      string    `json:"channel"`
		MessageCount int       `json:"message_count"`
		UpdatedAt    time.Time `json:"updated_at"`
	} `json:"conversations"`
}

type conversationBody struct {
	Conversation struct {
		ID    int64  `json:"id"`
		Title string `json:"title"`
	} `json:"conversation"`
	Messages []struct {
		ID        int64  `json:"id"`
		Role      string `json:"role"`
		Content   string `json:"content"`
		HTML      string `json:"html"`
		Citations []struct {
			N        int    `json:"n"`
			Document string `json:"document"`
		} `json:"citations"`
	} `json:"messages"`
}

func TestConversationHistory(t *testing.T) {
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: `Replace the mechanical seal [1] "replace the mechanical seal". <script>x</script>`}})
	w.ingestReady(part{"file", "pump.md", []byte(manual)})
	worker := w.session("worker")

	first, problem := worker.followUp("How do I fix a seal leak on pump P-101?", 0)
	if first.ConversationID == 0 {
		t.Fatalf("first question: %s", problem)
	}
	if f, problem := worker.followUp("What torque for the gland bolts?", first.ConversationID); f.ConversationID != first.ConversationID {
		t.Fatalf("follow-up went to %d, want %d: %s", f.ConversationID, first.ConversationID, problem)
	}
	second, _ := worker.followUp("What does alarm E42 mean?", 0)

	var list conversationList
	if code := worker.json("GET", "/api/conversations", nil, &list); code != 200 {
		t.Fatalf("list: %d", code)
	}
	if len(list.Conversations) != 2 || list.Conversations[0].ID != second.ConversationID || list.Conversations[1].ID != first.ConversationID ||
		list.Conversations[1].Title != "How do I fix a seal leak on pump P-101?" || list.Conversations[1].MessageCount != 4 {
		t.Fatalf("conversations = %+v", list.Conversations)
	}
	if code := worker.json("GET", "/api/conversations?limit=1", nil, &list); code != 200 || len(list.Conversations) != 1 {
		t.Fatalf("limit 1: %d %+v", code, list.Conversations)
	}
	if code := worker.json("GET", "/api/conversations?limit=x", nil, nil); code != 400 {
		t.Fatalf("limit x: %d, want 400", code)
	}

	path := "/api/conversations/" + jsonNum(first.ConversationID)
	var conv conversationBody
	if code := worker.json("GET", path, nil, &conv); code != 200 {
		t.Fatalf("open: %d", code)
	}
	m := conv.Messages
	if conv.Conversation.ID != first.ConversationID || len(m) != 4 || m[0].Role != "user" || m[2].Content != "What torque for the gland bolts?" ||
		m[1].Role != "assistant" || m[1].ID != first.MessageID || len(m[1].Citations) != 1 || m[1].Citations[0].Document != "pump.md" ||
		!strings.Contains(m[1].HTML, "Replace the mechanical seal") || m[0].HTML != "" {
		t.Fatalf("conversation = %+v", conv)
	}
	assertSafeHTML(t, m[1].HTML)
	// The bearer token of the same user sees the same.
	if code := w.token("worker").json("GET", path, nil, nil); code != 200 {
		t.Fatalf("worker's token: %d", code)
	}

	// A colleague in the same factory (the supervisor is a user too) and an
	// admin of another factory get 404, and cannot continue it either.
	for _, who := range []string{"supervisor", "admin", "bolt"} {
		c := w.token(who)
		var e struct{ Error string }
		if code := c.json("GET", path, nil, &e); code != http.StatusNotFound || strings.Contains(e.Error, "seal") {
			t.Errorf("%s reading the worker's conversation: %d %q, want 404", who, code, e.Error)
		}
		var l conversationList
		if code := c.json("GET", "/api/conversations", nil, &l); code != 200 || len(l.Conversations) != 0 {
			t.Errorf("%s lists %d conversations (%d), want none", who, len(l.Conversations), code)
		}
		if f, problem := c.followUp("and the torque?", first.ConversationID); f.MessageID != 0 || !strings.Contains(problem, "not found") {
			t.Errorf("%s continued the worker's conversation: %+v %s", who, f, problem)
		}
	}
	if code := worker.json("GET", "/api/conversations/"+jsonNum(first.ConversationID+1000), nil, nil); code != 404 {
		t.Fatalf("missing conversation: %d", code)
	}
}
