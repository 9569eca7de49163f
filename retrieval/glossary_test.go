package retrieval

import (
	"context"
	"errors"
	"testing"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

// TestPlantGlossary: a plant's own word that neither the manuals, the
// shop-floor glossary nor the dictionary knows (小黄盒, "the little yellow
// box", for the tool setter) finds the page once a supervisor says what it
// means, without re-indexing; the entry is the tenant's alone, and removing
// it takes it back.
func TestPlantGlossary(t *testing.T) {
	ctx := context.Background()
	a, err := sharedAnalyzer()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"Tool setter: lower the tool onto the setter plate and the probe records its length.",
		"The spindle speed override slider scales the programmed speed.",
		"Coolant: check the concentration with the refractometer every shift.",
	}
	db, url, tenant := libraryAt(t, a, texts)
	const q = "小黄盒怎么用？"
	search := func() Result {
		t.Helper()
		// A new Searcher each time: its glossary cache lasts glossaryTTL.
		r, err := New(db, a, nil, Options{}).Retrieve(ctx, tenant, Query{Text: q, K: 3})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := search(); len(r.Hits) > 0 && r.Hits[0].Text == texts[0] && !r.Abstain {
		t.Fatalf("found without the plant's word: %+v", r.Hits[0])
	}
	bad := shifu.GlossaryEntry{Term: " ", Means: "tool setter"}
	if err := bad.Check(); !errors.Is(err, shifu.ErrInvalid) {
		t.Errorf("blank term: %v", err)
	}
	e := shifu.GlossaryEntry{Term: " 小黄盒 ", Means: "tool setter"}
	by := shifu.Actor{Name: "Wang (supervisor)"}
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
	e, err = db.AddGlossary(ctx, tenant, e, by)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddGlossary(ctx, tenant, e, by); !errors.Is(err, shifu.ErrConflict) {
		t.Errorf("the same entry twice: %v", err)
	}
	r := search()
	if len(r.Hits) == 0 || r.Hits[0].Text != texts[0] || r.Abstain {
		t.Fatalf("with the plant's word: %+v (abstain %v, confidence %.2f)", r.Hits, r.Abstain, r.Confidence)
	}
	// Another tenant sees none of it.
	other := pgtest.Tenant(t, url, "other")
	if gs, err := db.Glossary(ctx, other.ID); err != nil || len(gs) != 0 {
		t.Errorf("other tenant's glossary: %v %v", gs, err)
	}
	if err := db.RemoveGlossary(ctx, other.ID, e.ID, by); !errors.Is(err, shifu.ErrNotFound) {
		t.Errorf("removed from another tenant: %v", err)
	}
	gs, err := db.Glossary(ctx, tenant)
	if err != nil || len(gs) != 1 || gs[0].Term != "小黄盒" || gs[0].Means != "tool setter" || gs[0].AddedBy != by.Name {
		t.Fatalf("list: %+v %v", gs, err)
	}
	if err := db.RemoveGlossary(ctx, tenant, e.ID, by); err != nil {
		t.Fatal(err)
	}
	if r := search(); len(r.Hits) > 0 && r.Hits[0].Text == texts[0] && !r.Abstain {
		t.Errorf("still found after removal: %+v", r.Hits[0])
	}
}
