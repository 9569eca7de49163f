package terms

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// shared loads the dictionary once for all tests (it costs ~1.5 s and ~150 MB).
var shared = sync.OnceValues(New)

func analyzer(t testing.TB) *Analyzer {
	t.Helper()
	a, err := shared()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func hasAll(t *testing.T, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("terms %q lack %q", got, w)
		}
	}
}

func hasNone(t *testing.T, got []string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if slices.Contains(got, b) {
			t.Errorf("terms %q contain %q", got, b)
		}
	}
}

func TestCodes(t *testing.T) {
	a := analyzer(t)
	cases := []struct {
		in        string
		want, bad []string
	}{
		{"Use G64 for blending", []string{"g64", "blend"}, []string{"g", "64"}},
		{"rigid tapping with G33.1", []string{"g33.1", "rigid", "tap"}, []string{"g33", "1"}},
		{"M6 T1 tool change", []string{"m6", "t1", "tool", "chang"}, nil},
		{"error E-104 shown", []string{"e-104", "e104", "error"}, nil},
		{"ALM 1021 on the drive", []string{"alm", "1021", "alm1021", "drive"}, nil},
		{"M3/M4 start the spindle", []string{"m3/m4", "m3", "m4", "spindl"}, nil},
		{"net x motion.spindle-on", []string{"motion.spindle-on", "motion", "spindle-on", "spindl", "on"}, nil},
		{"iocontrol.0.emc-enable-in", []string{"iocontrol.0.emc-enable-in", "iocontrol", "emc-enable-in", "emc", "enabl"}, nil},
		{"MAX_VELOCITY = 1.2", []string{"max_velocity", "max", "veloc", "1.2"}, []string{"max_veloc"}},
		{"in the [EMCMOT] section", []string{"emcmot", "section"}, []string{"[emcmot]"}},
		{"edit linuxcnc.ini", []string{"linuxcnc.ini", "linuxcnc", "ini", "edit"}, nil},
		{"run halcmd show pin", []string{"halcmd", "run", "show", "pin"}, nil},
		{"base period 100,000 ns", []string{"100000", "ns", "base", "period"}, []string{"100", "000"}},
		{"a 24V supply and 5kHz", []string{"24v", "24", "v", "5khz", "5", "khz"}, nil},
		{"G01 or M03", []string{"g01", "g1", "m03", "m3"}, nil},
		{"press the E-stop", []string{"e-stop", "estop", "stop", "press"}, nil},
		{"ＧＣＯＤＥ Ｇ６４", []string{"gcode", "g64"}, nil}, // full-width forms fold by NFKC
	}
	for _, c := range cases {
		got := a.Terms(c.in)
		hasAll(t, got, c.want...)
		hasNone(t, got, c.bad...)
		hasNone(t, got, "the", "a", "in", "and", "or", "with", "for")
	}
}

func TestNotStemmed(t *testing.T) {
	a := analyzer(t)
	for _, code := range []string{"halcmd", "hostmot2", "g64", "stepconf", "unlinkp"} {
		got := a.Terms(code)
		if len(got) != 1 || got[0] != code {
			t.Errorf("Terms(%q) = %q, want exactly [%q]", code, got, code)
		}
	}
	// Prose is stemmed so plural and verb forms meet.
	if a.Terms("offsets")[0] != a.Terms("offset")[0] || a.Terms("measured")[0] != a.Terms("measuring")[0] {
		t.Errorf("stemming does not join forms: %q %q", a.Terms("offsets measured"), a.Terms("offset measuring"))
	}
}

func TestMixedScripts(t *testing.T) {
	a := analyzer(t)
	got := a.Terms("在INI文件中设置MAX_VELOCITY")
	hasAll(t, got, "ini", "文件", "设置", "max_velocity", "veloc")
	for _, term := range got {
		han, latin := false, false
		for _, r := range term {
			if isHan(r) {
				han = true
			} else if r < 0x80 {
				latin = true
			}
		}
		if han && latin {
			t.Errorf("term %q crosses a script boundary", term)
		}
	}
}

func TestChinese(t *testing.T) {
	a := analyzer(t)
	got := a.Terms("远程登录到工控机跑个长任务，中途网断了会不会前功尽弃？")
	// Search mode gives the long word and the words inside it.
	hasAll(t, got, "远程", "登录", "工控机", "工控", "任务", "中途")
	hasNone(t, got, "，", "？", "了", "的")
	// Single characters come beside the words (the verb 跑 is no word of
	// gse's), function characters do not.
	hasAll(t, got, "跑", "网", "断", "控")
	for _, term := range got {
		if Unigram(term) && zhStop[term] {
			t.Errorf("function character %q emitted", term)
		}
	}
	// A question gets only the characters its words leave uncovered.
	q := a.QueryTerms("硬盘快满了，怎么查？")
	hasAll(t, q, "硬盘", "查")
	hasNone(t, q, "硬", "盘", "怎", "么")
	if !Unigram("跑") || Unigram("工控") || Unigram("x") || Unigram("") {
		t.Error("Unigram misclassifies")
	}
	got = a.Terms("du(1) 报告目录树使用的硬盘空间")
	hasAll(t, got, "du", "1", "报告", "目录", "硬盘", "空间", "硬盘空间")
	// tf: a repeated word is emitted once per occurrence.
	if n := strings.Count(strings.Join(a.Terms("插件脚本可以通过插件安装"), " "), "插件"); n != 2 {
		t.Errorf("插件 appears %d times, want 2", n)
	}
}

func TestQueryTerms(t *testing.T) {
	a := analyzer(t)
	q := a.QueryTerms("How do I detach one pin in halcmd? Which pin, what signal, which pin?")
	hasAll(t, q, "detach", "pin", "halcmd", "signal")
	hasNone(t, q, "how", "do", "i", "which", "what")
	seen := map[string]bool{}
	for _, term := range q {
		if seen[term] {
			t.Errorf("duplicate query term %q in %q", term, q)
		}
		seen[term] = true
	}
	zh := a.QueryTerms("硬盘快满了，怎么查是哪个目录占的空间最多？")
	hasAll(t, zh, "硬盘", "目录", "空间")
	hasNone(t, zh, "怎么", "哪个", "吗")
	hasNone(t, a.QueryTerms("PCB 编辑器的 Python 插件怎么装吗？"), "怎么", "吗")
	// A number glued to its measure word leaves the noun to be searched on
	// its own ("每层打印一页" holds 层, not 一层); the number itself is not.
	q = a.QueryTerms("打印的时候想每一层单独打一张纸")
	hasAll(t, q, "一层", "层", "张", "纸")
	hasNone(t, q, "一")
}

// Conversational words are dropped from questions in every inflection the
// stemmer folds together, but stay in the index (a manual may be about them),
// and words that name things in manuals (write, bit, make) stay in questions.
func TestQueryTermsConversational(t *testing.T) {
	a := analyzer(t)
	q := a.QueryTerms("Somebody wrote (debug,#1) and nothing happened; I need something that gets things printed, anyway.")
	hasAll(t, q, "debug", "1", "print")
	for _, w := range []string{"somebody", "wrote", "nothing", "happened", "need", "something", "gets", "things", "anyway"} {
		hasNone(t, q, a.Terms(w)...)
	}
	hasAll(t, a.Terms("nothing happened to the things"), "noth", "happen", "thing")
	hasAll(t, a.QueryTerms("How do I make the file write-protected, with one bit pin?"), "make", "write", "bit", "pin", "file")
}

func FuzzTerms(f *testing.F) {
	for _, s := range []string{"G33.1 E-104 ALM 1021", "在INI文件中设置MAX_VELOCITY", "a.b-c/d_e,1,000", "--..//", "\xff\xfe中", "x-", "1,0000", "那台工控机能直接拔电关机吗 emergency stop"} {
		f.Add(s)
	}
	a := analyzer(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, term := range a.Terms(s) {
			if term == "" || strings.ContainsAny(term, " \t\n") || !utf8.ValidString(term) {
				t.Fatalf("bad term %q from %q", term, s)
			}
			if term != strings.ToLower(term) {
				t.Fatalf("term %q not lowercase", term)
			}
		}
		q := a.QueryTerms(s)
		if len(q) > len(a.Terms(s)) {
			t.Fatalf("more query terms than index terms for %q", s)
		}
		for _, syn := range a.Synonyms(q) {
			if len(syn.Of) == 0 || len(syn.Terms) == 0 {
				t.Fatalf("empty synonym %+v for %q", syn, s)
			}
		}
		// A word's characters are index terms of the word itself: a chunk
		// holding the word holds them.
		index := map[string]bool{}
		for _, term := range a.Terms(s) {
			index[term] = true
		}
		for _, term := range q {
			for _, c := range a.Chars(term) {
				if !Unigram(c) || !index[c] {
					t.Fatalf("Chars(%q) gave %q, not an index term of %q", term, c, s)
				}
			}
		}
	})
}

func BenchmarkTerms(b *testing.B) {
	a := analyzer(b)
	text := strings.Repeat("在INI文件的[EMCMOT]部分设置MAX_VELOCITY，然后用halcmd检查motion.spindle-on引脚。"+
		"Set G64 P0.01 before G33.1 rigid tapping; alarm ALM 1021 means the servo drive faulted. ", 50)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		a.Terms(text)
	}
}

// Snowball folds some words together that manuals keep apart; the override
// keeps them apart in index and question alike, and leaves the rest alone.
func TestStemOverride(t *testing.T) {
	a := analyzer(t)
	for _, pair := range [][2]string{{"positive", "position"}, {"paste", "past"}, {"relative", "relation"}, {"direction", "direct"}, {"international", "internal"}} {
		x, y := a.Terms(pair[0]), a.Terms(pair[1])
		if len(x) != 1 || len(y) != 1 || x[0] == y[0] {
			t.Errorf("%s %q and %s %q", pair[0], x, pair[1], y)
		}
	}
	hasAll(t, a.Terms("positively positive positives"), "positiv")
	hasAll(t, a.QueryTerms("all coordinates are positive"), "positiv", "coordin")
	hasAll(t, a.Terms("positions positioning"), "posit")
}

// English clitics ('s, 't, 're …, straight or typographic) are no terms: every
// page holds them. Negation fragments left before them (isn, won) neither.
func TestClitics(t *testing.T) {
	a := analyzer(t)
	got := a.Terms("What's the tool's X offset? It won't go past 120%. You’re sure it isn't there? I'd say we'll see.")
	hasAll(t, got, "tool", "x", "offset", "go", "past", "120", "sure", "say", "see")
	hasNone(t, got, "s", "t", "re", "d", "ll", "won", "isn")
	// A quote is not an apostrophe before a letter that goes on.
	hasAll(t, a.Terms("press the 's' key; O'Brien's lathe"), "s", "key", "o", "brien", "lath")
}

// TestChars: a Han word gives its characters to search it by, function
// characters left out; anything else gives none.
func TestChars(t *testing.T) {
	a := analyzer(t)
	for w, want := range map[string]string{
		"删了": "删", "占满": "占 满", "开不了机": "开 不 机", "一遍": "遍",
		"删": "", "apt": "", "ssh-keygen": "", "文件a": "",
	} {
		if got := strings.Join(a.Chars(w), " "); got != want {
			t.Errorf("Chars(%q) = %q, want %q", w, got, want)
		}
	}
}

// TestLongWordDropped: a word over maxTerm bytes gives no term (PostgreSQL
// refuses lexemes over 2,047 bytes and it failed the whole document), while
// the words around it still do.
func TestLongWordDropped(t *testing.T) {
	a := analyzer(t)
	long := strings.Repeat("x", 3000)
	got := a.Terms("spindle " + long + " motion.spindle-" + long + " coolant")
	for _, g := range got {
		if len(g) > maxTerm {
			t.Fatalf("a term of %d bytes was kept", len(g))
		}
	}
	hasAll(t, got, "spindl", "coolant")
}
