package shifu

import "testing"

func TestPageTextFind(t *testing.T) {
	w := func(text string, line int, x, y float64) Word {
		return Word{Text: text, Line: line, Box: Box{X: x, Y: y, W: 0.1, H: 0.02}}
	}
	p := PageText{Words: []Word{
		w("Check", 1, 0.1, 0.1), w("the", 1, 0.25, 0.1), w("wir-", 1, 0.4, 0.1),
		w("ing", 2, 0.1, 0.2), w("twice.", 2, 0.25, 0.2),
		w("主", 3, 0.1, 0.3), w("轴", 3, 0.2, 0.3), w("过热", 3, 0.3, 0.3),
		w("Then", 4, 0.1, 0.4), w("stop.", 4, 0.2, 0.4),
	}}
	// Across a hyphenated line break: one box per line.
	got := p.Find("the wiring twice")
	if len(got) != 2 || got[0].X != 0.25 || got[0].W < 0.24 || got[1].Y != 0.2 || got[1].W < 0.24 {
		t.Fatalf("Find = %+v", got)
	}
	// Chinese without the spaces OCR puts between characters.
	if got := p.Find("主轴过热"); len(got) != 1 || got[0].X != 0.1 || got[0].W < 0.29 {
		t.Errorf("Find Chinese = %+v", got)
	}
	// A quote running past the page: its first 24 letters are looked for.
	if got := p.Find("Check the wiring twice. 主轴过热 Then stop the spindle and read on"); len(got) != 4 {
		t.Errorf("Find long = %+v", got)
	}
	if got := p.Find("spindle"); got != nil {
		t.Errorf("Find absent = %+v", got)
	}
	if got := (PageText{}).Find("x"); got != nil {
		t.Errorf("empty page: %+v", got)
	}
}
