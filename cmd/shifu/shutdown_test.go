package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

// TestSIGTERMFinishesStreamedAnswer sends SIGTERM to `shifu serve` while an
// answer streams: the answer still completes and is stored, and the server
// then exits cleanly.
func TestSIGTERMFinishesStreamedAnswer(t *testing.T) {
	const reply = "Press the reset key, then clear alarm E-101 at the panel [1]."
	fake := llmtest.NewServer(t, llmtest.Options{Reply: reply, Chunk: 3, ChunkDelay: 50 * time.Millisecond})
	sh := newShell(t)
	sh.env["SHIFU_LLM_BASE_URL"] = fake.BaseURL()
	sh.env["SHIFU_LLM_MODEL"] = "fake-qwen"
	sh.must("tenant", "create", "acme")
	sh.must("user", "create", "--tenant", "acme", "--user", "ana", "--role", "worker")
	token := strings.TrimSpace(strings.Split(sh.must("token", "create", "--tenant", "acme", "--user", "ana"), "\n")[0])
	doc := filepath.Join(t.TempDir(), "press.md")
	if err := os.WriteFile(doc, []byte("# Press\n\n## Alarms\n\nAlarm E-101: press the reset key, then clear alarm E-101 at the panel.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh.must("ingest", "--tenant", "acme", doc)
	base, server := sh.serveCmd()

	body := `{"model":"shifu","stream":true,"messages":[{"role":"user","content":"How do I clear alarm E-101?"}]}`
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	var text strings.Builder
	signalled, done := false, false
	for sc.Scan() {
		line := sc.Text()
		if line == "data: [DONE]" {
			done = true
			break
		}
		if strings.Contains(line, `"content":"`) {
			_, rest, _ := strings.Cut(line, `"content":"`)
			piece, _, _ := strings.Cut(rest, `"`)
			text.WriteString(piece)
			if !signalled && piece != "" {
				// The answer is streaming: now the operator stops the server.
				if err := server.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				signalled = true
			}
		}
	}
	if !signalled || !done || !strings.Contains(text.String(), "reset key") {
		t.Fatalf("stream after SIGTERM: signalled %v, finished %v, text %q", signalled, done, text.String())
	}
	if err := server.Wait(); err != nil {
		t.Fatalf("shifu serve after SIGTERM: %v", err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, sh.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var stored int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM messages WHERE role = 'assistant' AND content LIKE '%reset key%'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 1 {
		t.Fatalf("%d stored answers, want the one streamed during shutdown", stored)
	}
}
