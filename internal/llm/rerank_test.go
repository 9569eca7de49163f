package llm

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

var rerankDocs = []string{
	"Replace the conveyor belt every 2000 hours.",
	"Low hydraulic pressure: check the pump suction filter.",
	"The hydraulic pump pressure relief valve is set to 180 bar.",
}

func TestRerankCohereShape(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{})
	r, err := NewReranker(RerankConfig{Provider: "jina", URL: srv.RerankURL(), APIKey: "jk"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Rerank(context.Background(), "hydraulic pump pressure relief", rerankDocs, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Index != 2 || got[1].Index != 1 || got[0].Score < got[1].Score {
		t.Fatalf("ranked %+v", got)
	}
	req := srv.Requests()[0]
	var body struct {
		Model     string   `json:"model"`
		Query     string   `json:"query"`
		Documents []string `json:"documents"`
		TopN      int      `json:"top_n"`
	}
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Model != JinaRerankModel || body.Query != "hydraulic pump pressure relief" || len(body.Documents) != 3 || body.TopN != 2 {
		t.Fatalf("body %s", req.Body)
	}
	if req.Header.Get("Authorization") != "Bearer jk" {
		t.Fatalf("auth %q", req.Header.Get("Authorization"))
	}
}

func TestRerankDashScopeShape(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{})
	r, err := NewReranker(RerankConfig{Provider: "dashscope", URL: srv.DashScopeRerankURL(), APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Rerank(context.Background(), "conveyor belt", rerankDocs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Index != 0 {
		t.Fatalf("ranked %+v", got)
	}
	rr := srv.Requests()[0].Rerank
	if !rr.DashScope || rr.Model != "gte-rerank" || rr.Query != "conveyor belt" || rr.TopN != 3 || len(rr.Documents) != 3 {
		t.Fatalf("request %+v", rr)
	}
}

func TestRerankRetries(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Script: []llmtest.Step{{Status: 502}, {Status: 429}}})
	r, _ := NewReranker(RerankConfig{Provider: "cohere", URL: srv.RerankURL(), APIKey: "k", Backoff: time.Millisecond})
	if _, err := r.Rerank(context.Background(), "pump", rerankDocs, 1); err != nil {
		t.Fatal(err)
	}
	if srv.Count("") != 3 {
		t.Fatalf("%d requests", srv.Count(""))
	}

	bad := llmtest.NewServer(t, llmtest.Options{Script: []llmtest.Step{{Status: 401}}})
	r, _ = NewReranker(RerankConfig{Provider: "cohere", URL: bad.RerankURL(), APIKey: "k", Backoff: time.Millisecond})
	_, err := r.Rerank(context.Background(), "pump", rerankDocs, 1)
	var herr *HTTPError
	if !errors.As(err, &herr) || herr.Status != 401 || !errors.Is(err, shifu.ErrUnavailable) || bad.Count("") != 1 {
		t.Fatalf("err %v after %d requests", err, bad.Count(""))
	}
}

func TestRerankConfig(t *testing.T) {
	for _, cfg := range []RerankConfig{{Provider: "x"}, {Provider: "cohere"}, {Provider: "compatible"}} {
		if _, err := NewReranker(cfg); !errors.Is(err, shifu.ErrInvalid) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}
