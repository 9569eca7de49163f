package answer

import (
	"testing"

	"github.com/shifu-factory/shifu"
)

func cand(text string, scores ...float64) pick {
	p := pick{p: passage{hit: shifu.Hit{Chunk: shifu.Chunk{Text: text, Language: "en"}}}}
	for i, s := range scores {
		p.units = append(p.units, unit{text: text + string(rune('a'+i)), score: s, pos: i})
	}
	return p
}

// TestFillAcrossPassages: the units are chosen from one list across the
// passages, so a lower passage's strong sentence is quoted before the first
// passage's weak ones, and the first passage's units still lead.
func TestFillAcrossPassages(t *testing.T) {
	got := fill("en", []pick{cand("one", 0.9, 0.1, 0.2, 0.3), cand("two", 0.2, 0.8)})
	if len(got) != 2 || got[0].p.hit.Text != "one" || got[1].p.hit.Text != "two" {
		t.Fatalf("picks = %+v, want passage one then two", got)
	}
	if n := len(got[1].units); n != 1 || got[1].units[0].text != "twob" {
		t.Errorf("second passage quotes %+v, want only its strong sentence", got[1].units)
	}
	// The best unit, the one after it, and none below nearBest of the best.
	var first []string
	for _, u := range got[0].units {
		first = append(first, u.text)
	}
	if len(first) != 3 || first[0] != "onea" || first[1] != "oneb" || first[2] != "oned" {
		t.Errorf("first passage quotes %v, want onea oneb oned", first)
	}
}

// TestFillFarBelowIsNotQuoted: a passage whose best unit is far below the
// best (limit.second) adds no source, and the units keep within maxSources.
func TestFillFarBelowIsNotQuoted(t *testing.T) {
	got := fill("en", []pick{cand("one", 0.9, 0.8), cand("two", 0.4), cand("three", 0.7), cand("four", 0.65)})
	if len(got) != maxSources || got[1].p.hit.Text != "three" {
		t.Fatalf("picks = %+v, want one and three", got)
	}
}

func TestFragment(t *testing.T) {
	for text, want := range map[string]bool{
		"Manufacturer Model Step Time": true,
		"Shortcut ESC":                 true,
		"From the Xylotex datasheet:":  true,
		"Set it to 16.":                false,
		"Is it homed?”":                false,
		"The maximum number of points supported is 16 points": false,
		"": true,
	} {
		if got := fragment(text); got != want {
			t.Errorf("fragment(%q) = %v, want %v", text, got, want)
		}
	}
}
