package shifu

import (
	"strings"
	"testing"
)

func TestLang(t *testing.T) {
	for in, want := range map[string]string{
		"The spindle runs hot.":                   "en",
		"Set MAX_VELOCITY in the INI file":        "en",
		"主轴过热，检查风扇。":                              "zh",
		"在INI文件中设置MAX_VELOCITY":                   "zh",
		"使用 apt-get install 安装软件包，然后运行 dpkg 检查。":  "zh",
		"Use the 主轴 setting on the spindle page.": "en",
		"123 456 !!": "",
		"":           "",
	} {
		if got := Lang(in); got != want {
			t.Errorf("Lang(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTokens(t *testing.T) {
	for in, want := range map[string]int{
		"ten words here to count in a sentence of text": 13,
		"一二三四五六七八九十一二三四五六":                              10,
		"G64 P0.01": 4,
		"":          0,
	} {
		if got := Tokens(in); got != want {
			t.Errorf("Tokens(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestSentences: a sentence ends at a stop before a capital or a line end,
// not at a semicolon, an abbreviation before a lower-case word, a decimal
// point or a list number.
func TestSentences(t *testing.T) {
	got := Sentences("A comment line is started with a ; or a # mark. Use e.g. the\nfirst. 5. Set 2.5 mm. 报警了。再试！")
	want := []string{"A comment line is started with a ; or a # mark.", "Use e.g. the", "first.", "5. Set 2.5 mm.", "报警了。", "再试！"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("sentences = %q\nwant        %q", got, want)
	}
}
