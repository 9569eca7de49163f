package terms

import (
	"slices"
	"testing"
)

// lexicon is a bilingual dictionary of a few CC-CEDICT entries.
type lexicon map[string][]string

func (l lexicon) Glosses(w string) []string { return l[w] }
func (l lexicon) Has(w string) bool         { _, ok := l[w]; return ok }
func (l lexicon) Headwords(g string, max int) []string {
	var out []string
	for w, gs := range l {
		if slices.Contains(gs, g) && len(out) < max {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

func TestTranslate(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	d := lexicon{
		"限位": {"limit"}, "开关": {"power switch", "switch on and off"}, // the glossary's 限位开关 wins
		"负载": {"carry", "support", "load"}, "步进": {"step"},
		"线圈": {"solenoid", "coil"}, "时候": {"time"}, "坐标": {"coordinate"},
	}
	got := map[string]Translation{}
	for _, tr := range a.Translate("撞到限位开关的时候负载线圈的坐标怎么办？", d) {
		got[tr.Word] = tr
	}
	if tr := got["限位开关"]; !tr.Glossary || !slices.ContainsFunc(tr.Alts, func(ts []string) bool { return slices.Equal(ts, []string{"limit", "switch"}) }) {
		t.Errorf("限位开关 = %+v, want the glossary's limit switch, as one word", tr)
	}
	if _, ok := got["开关"]; ok {
		t.Error("开关 translated apart from 限位开关")
	}
	if tr := got["负载"]; len(tr.Alts) != 3 || tr.Weight != 1 || tr.Glossary {
		t.Errorf("负载 = %+v, want its three glosses as one group", tr)
	}
	if _, ok := got["怎么办"]; ok {
		t.Error("a question word was translated")
	}
	if a.Specificity("时候") >= a.Specificity("线圈") || a.Specificity("坐") != charSpecificity {
		t.Errorf("specificity 时候 %.2f, 线圈 %.2f, 坐 %.2f: an everyday word must weigh less than a technical one",
			a.Specificity("时候"), a.Specificity("线圈"), a.Specificity("坐"))
	}
	// English questions go the other way.
	var zh []string
	for _, tr := range a.Translate("What happens to the coils under load?", d) {
		for _, alt := range tr.Alts {
			zh = append(zh, alt...)
		}
	}
	if !slices.Contains(zh, "线圈") || !slices.Contains(zh, "负载") {
		t.Errorf("English question translated to %v, want 线圈 and 负载", zh)
	}
}
