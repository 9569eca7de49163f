package terms

import (
	"slices"
	"strings"
	"testing"
)

func TestParseGlossary(t *testing.T) {
	got, err := parseGlossary("# comment\n\nestop, e-stop ,  emergency   stop # trailing\n急停, 紧急停止\n")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"estop", "e-stop", "emergency stop"}, {"急停", "紧急停止"}}
	if len(got) != len(want) || !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for in, msg := range map[string]string{
		"a, , b":     "line 1: empty member",
		"x, y\nlone": "line 2: a group needs two members or more",
	} {
		if _, err := parseGlossary(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: error %v, want %q", in, err, msg)
		}
	}
}

// Every member of the embedded glossary must analyse to some terms: a member
// made only of stop words, or a typo'd separator, would silently drop out.
func TestGlossaryEmbedded(t *testing.T) {
	a := analyzer(t)
	lines, err := parseGlossary(glossaryText)
	if err != nil {
		t.Fatal(err)
	}
	members, kept := 0, 0
	for _, l := range lines {
		members += len(l)
	}
	for _, g := range a.gloss().groups {
		kept += len(g)
	}
	if len(lines) < 200 || kept != members {
		t.Fatalf("%d groups; %d of %d members kept", len(lines), kept, members)
	}
}

// The glossary's words are cut as words, in text and in questions alike
// (工控机能 as 工控机/能, not 工控/机能); a word only the glossary made one
// leaves its characters to a question too.
func TestGlossaryWords(t *testing.T) {
	a := analyzer(t)
	q := a.QueryTerms("那台工控机能直接拔电关机吗")
	hasAll(t, q, "工控机", "拔电", "关机", "拔", "电")
	hasNone(t, q, "机能")
	hasAll(t, a.Terms("工控机能正常启动"), "工控机")
	// A word the dictionary had already keeps covering its characters.
	hasNone(t, a.QueryTerms("电脑关机"), "电", "脑")
}

func synonymTerms(syn []Synonym) []string {
	var out []string
	for _, s := range syn {
		out = append(out, strings.Join(s.Terms, " "))
	}
	return out
}

func TestSynonyms(t *testing.T) {
	a := analyzer(t)
	cases := []struct {
		q         string
		want, bad []string
	}{
		{"那台工控机能直接拔电关机吗", []string{"计算机", "电脑", "断电", "关闭系统", "shutdown", "power off"}, []string{"工控机", "机能"}},
		{"How do I detach one pin from its signal?", []string{"unlink", "disconnect", "信号"}, nil},
		{"which G-code makes the controller re-read the tool table", []string{"reload", "刀具表"}, nil},
		// A phrase member needs all its words: "stop" alone is not "emergency stop".
		{"the spindle won't stop", []string{"主轴"}, []string{"estop", "急停"}},
		{"I hit the emergency stop", []string{"estop", "急停", "e-stop estop stop"}, nil},
		// One Han character alone (刀) is too broad to add; as a trigger it counts.
		{"换刀以后刀具长度不对", []string{"tool chang", "tool length"}, []string{"刀"}},
		{"nothing in the glossary here", nil, nil},
	}
	for _, c := range cases {
		qt := a.QueryTerms(c.q)
		syn := a.Synonyms(qt)
		got := synonymTerms(syn)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("%q: synonyms %q lack %q", c.q, got, w)
			}
		}
		for _, b := range c.bad {
			if slices.Contains(got, b) {
				t.Errorf("%q: synonyms %q hold %q", c.q, got, b)
			}
		}
		if c.want == nil && len(syn) > 0 {
			t.Errorf("%q: synonyms %q, want none", c.q, got)
		}
		seen := map[string]bool{}
		for _, s := range syn {
			key := strings.Join(s.Terms, " ")
			if seen[key] {
				t.Errorf("%q: synonym %q twice", c.q, key)
			}
			seen[key] = true
			if len(s.Of) == 0 || len(s.Terms) == 0 {
				t.Errorf("%q: empty synonym %+v", c.q, s)
			}
			for _, o := range s.Of {
				if !slices.Contains(qt, o) {
					t.Errorf("%q: synonym of %q, which the question %q lacks", c.q, o, qt)
				}
			}
			if len(s.Terms) == 1 && Unigram(s.Terms[0]) {
				t.Errorf("%q: single character %q added", c.q, s.Terms[0])
			}
		}
	}
}
