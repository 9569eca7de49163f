package retrieval

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

// TestConfidenceSmallLibrary: in a library of a few chunks, an everyday word
// the library happens not to hold ("hit") must not sink a question it
// answers, while a question about a thing it does not hold ("hepa") still
// abstains.
func TestConfidenceSmallLibrary(t *testing.T) {
	ctx := context.Background()
	texts := []string{
		"emergency stop: if the spindle keeps turning after estop open the main disconnect",
		"alarms: e-104 spindle drive over temperature, clean the fan filter",
		"lubrication: check the way oil level every shift",
		"turret: clear alarm e-305 and jog the turret",
	}
	db, tenant := library(t, texts)
	s := New(db, words{}, nil, Options{})
	for q, abstain := range map[string]bool{
		"spindle keeps turning when i hit the estop button": false,
		"replace hepa filter":                               true,
	} {
		r, err := s.Retrieve(ctx, tenant, Query{Text: q, K: 3})
		if err != nil {
			t.Fatal(err)
		}
		if r.Abstain != abstain {
			t.Errorf("%q: abstain %v (confidence %.2f), want %v", q, r.Abstain, r.Confidence, abstain)
		}
	}
}

// TestFollowUpWithoutModel: with no model to rewrite it, a follow-up is
// searched together with the question before it.
func TestFollowUpWithoutModel(t *testing.T) {
	ctx := context.Background()
	texts := []string{
		"alarm e-104 spindle drive over temperature: let the drive cool 15 minutes and clean the fan filter",
		"alarm e-211 x axis following error: check ball screw lubrication",
		"lubrication: check the way oil level every shift",
		"turret: clear alarm e-305 and jog the turret",
		"coolant: top up to the max mark",
	}
	db, tenant := library(t, texts)
	s := New(db, words{}, nil, Options{})
	history := []shifu.Turn{{Role: "user", Content: "alarm e-104"}, {Role: "assistant", Content: "The spindle drive is too hot [1]."}}
	r, err := s.Retrieve(ctx, tenant, Query{Text: "how long cool", K: 3, History: history})
	if err != nil {
		t.Fatal(err)
	}
	if r.Abstain || len(r.Hits) == 0 || r.Hits[0].Text != texts[0] {
		t.Fatalf("follow-up: abstain %v (confidence %.2f), hits %v", r.Abstain, r.Confidence, r.Hits)
	}
	// Whether the manuals cover a follow-up is judged on what was asked: an
	// off-topic one abstains although the question before it is covered.
	r, err = s.Retrieve(ctx, tenant, Query{Text: "roller", K: 3, History: history})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Abstain {
		t.Fatalf("off-topic follow-up answered (confidence %.2f) from %v", r.Confidence, r.Hits)
	}
}

// library stores texts as the chunks of one ready document of a new tenant,
// ten ords apart so no chunk lends another neighbour context, indexed by the
// words analyzer.
func library(t *testing.T, texts []string) (*postgres.DB, int64) {
	t.Helper()
	return libraryOf(t, words{}, texts)
}

// libraryOf is library indexed by a.
func libraryOf(t *testing.T, a Analyzer, texts []string) (*postgres.DB, int64) {
	t.Helper()
	db, _, ten := libraryAt(t, a, texts)
	return db, ten
}

// libraryAt is libraryOf with the owner's URL, for more tenants.
func libraryAt(t *testing.T, a Analyzer, texts []string) (*postgres.DB, string, int64) {
	t.Helper()
	cs := make([]shifu.Chunk, len(texts))
	for i, tx := range texts {
		cs[i] = shifu.Chunk{Text: tx}
	}
	return libraryOfChunks(t, a, cs)
}

// libraryOfChunks is libraryAt with chunks (a heading, say) for texts; each
// is a page of its own.
func libraryOfChunks(t *testing.T, a Analyzer, cs []shifu.Chunk) (*postgres.DB, string, int64) {
	t.Helper()
	db, url := pgtest.DB(t)
	ctx := context.Background()
	ten := pgtest.Tenant(t, url, "acme")
	var doc int64
	err := db.InTenant(ctx, ten.ID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO documents (name, kind, sha256, size, status) VALUES ('m.md', 'manual', 'x', 1, 'ready') RETURNING id`).Scan(&doc)
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]shifu.IndexedChunk, len(cs))
	for i, c := range cs {
		c.Ord, c.PageStart, c.PageEnd = 10*i, i+1, i+1
		rows[i] = shifu.IndexedChunk{Chunk: c, Terms: a.Terms(c.Text)}
	}
	if err := db.StoreChunks(ctx, ten.ID, doc, shifu.DocMeta{}, rows); err != nil {
		t.Fatal(err)
	}
	return db, url, ten.ID
}

// TestConfidenceTwoPassages: a question answered by two passages together (a
// step, and the warning beside it) is covered by the first two hits jointly,
// where neither alone holds enough of it.
func TestConfidenceTwoPassages(t *testing.T) {
	ctx := context.Background()
	texts := []string{
		"turret indexing: after a power loss home the turret from the service menu",
		"turret warning: close the guard before homing or the interlock blocks indexing after power loss",
		"lubrication: check the way oil level every shift",
		"coolant: top up to the max mark",
		"spindle: warm up for ten minutes",
		"chuck: grease the jaws weekly",
	}
	db, tenant := library(t, texts)
	s := New(db, words{}, nil, Options{})
	q := "turret homing interlock service menu guard"
	both, err := s.Retrieve(ctx, tenant, Query{Text: q, K: 3})
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Retrieve(ctx, tenant, Query{Text: q, K: 1})
	if err != nil {
		t.Fatal(err)
	}
	if both.Abstain || both.Confidence < 0.99 || first.Confidence > 0.7 {
		t.Fatalf("abstain %v, confidence %.2f (first hit alone %.2f), hits %v", both.Abstain, both.Confidence, first.Confidence, both.Hits)
	}
}

// TestFocusNeedsTheQuestionsWords: a chunk's heading path is searched with
// it, and a long path ("II Usage > User Interface Programming > Filter
// Programs") shares words with questions its text has nothing to say about.
// A question covered only by a heading abstains; the same words in a
// sentence of the text answer it.
func TestFocusNeedsTheQuestionsWords(t *testing.T) {
	ctx := context.Background()
	a, err := sharedAnalyzer()
	if err != nil {
		t.Fatal(err)
	}
	const q = "激光切割机的保护镜片脏了用什么擦？"
	for _, c := range []struct {
		heading, body string
		abstain       bool
	}{
		{"激光切割机 > 保护镜片", "用 ip 命令查看网卡的地址和路由，用 ping 检查网络是否连通。", true},
		{"激光切割机 > 保养", "保护镜片脏了，用无水酒精和镜头纸从中心向外擦。", false},
	} {
		text := c.heading + "\n" + c.body
		db, _, ten := libraryOfChunks(t, a, []shifu.Chunk{{Text: text, Heading: c.heading}, {Text: "打印机：用 CUPS 添加和配置打印机。"}})
		r, err := New(db, a, nil, Options{}).Retrieve(ctx, ten, Query{Text: q, K: 3})
		if err != nil {
			t.Fatal(err)
		}
		if r.Abstain != c.abstain {
			t.Errorf("%q under %q: abstain %v (confidence %.2f, focus %.2f), want %v", c.body, c.heading, r.Abstain, r.Confidence, r.Focus, c.abstain)
		}
		if c.abstain && r.Confidence < Defaults().AbstainBelowZh {
			t.Errorf("heading only: confidence %.2f is under the threshold: the test no longer shows focus at work", r.Confidence)
		}
	}
}
