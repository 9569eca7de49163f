package retrieval

import (
	"context"
	"os"
	"testing"

	"github.com/shifu-factory/shifu/internal/wordnet"
)

// TestThesaurusFindsTheManualsWords: a worker's everyday word (enormous) is
// not the manual's (large). WordNet's other names for it, searched as one
// group below the question's own words, put the manual's page first;
// without them a page sharing only the question's other words wins.
func TestThesaurusFindsTheManualsWords(t *testing.T) {
	dir := os.Getenv("SHIFU_WORDNET")
	if dir == "" {
		dir = wordnet.DefaultDir
	}
	if _, err := os.Stat(dir + "/data.noun"); err != nil {
		t.Skipf("WordNet missing in %s; run scripts/deps.sh (installs wordnet-base)", dir)
	}
	wn, err := wordnet.Load(dir, wordnet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := sharedAnalyzer()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"Program size: the only limit on a large part program is disk space; the preview takes longer to load.",
		"Program names: a program file name must end in .ngc; the program is opened from the program folder.",
		"Coolant: M7 turns mist coolant on, M8 flood, M9 off.",
		"Jogging: the arrow keys move the X and Y axes.",
	}
	db, tenant := libraryOf(t, a, texts)
	q := Query{Text: "can a program be enormous", K: 3}
	with, err := New(db, a, nil, Options{Thesaurus: wn}).Retrieve(context.Background(), tenant, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(with.Hits) == 0 || with.Hits[0].Text != texts[0] {
		t.Fatalf("with WordNet: hits %v, want the large-program page first", with.Hits)
	}
	without, err := New(db, a, nil, Options{ThesaurusWeight: -1, Thesaurus: wn}).Retrieve(context.Background(), tenant, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(without.Hits) > 0 && without.Hits[0].Text == texts[0] {
		t.Fatal("without WordNet the page is first too: the test bridges nothing")
	}
}
