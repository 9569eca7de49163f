package parse

import (
	"fmt"
	"slices"
	"testing"
)

func TestCleanRunningHeaders(t *testing.T) {
	var pages [][]string
	for i := 1; i <= 6; i++ {
		pages = append(pages, []string{
			"LinuxCNC Manual  v2.9",
			fmt.Sprintf("Body text about topic %c.", 'A'+i),
			"",
			fmt.Sprintf("More text on %c.", 'A'+i),
			fmt.Sprintf("Page %d of 6", i),
		})
	}
	pages[2] = append([]string{"Chapter 3"}, pages[2]...) // a header that is not running
	got := Clean(pages)
	for i, p := range got {
		for _, l := range p {
			if l == "LinuxCNC Manual v2.9" || len(l) > 4 && l[:4] == "Page" {
				t.Errorf("page %d kept running line %q", i+1, l)
			}
		}
		if !slices.Contains(p, fmt.Sprintf("Body text about topic %c.", 'A'+i+1)) {
			t.Errorf("page %d lost its body: %q", i+1, p)
		}
	}
	if got[2][0] != "Chapter 3" {
		t.Errorf("page 3 starts with %q, want Chapter 3", got[2][0])
	}
	// Fewer than three pages: nothing can be called running.
	two := Clean([][]string{{"Head", "a"}, {"Head", "b"}})
	if two[0][0] != "Head" {
		t.Errorf("two pages: header dropped")
	}
}

// A footer of three lines (title, date, page number, in either order).
func TestCleanThreeLineFooter(t *testing.T) {
	var pages [][]string
	for i := 1; i <= 6; i++ {
		foot := []string{"LinuxCNC Documentation", fmt.Sprintf("2007-04-0%d", i), fmt.Sprint(i)}
		if i%2 == 0 {
			slices.Reverse(foot)
		}
		pages = append(pages, append([]string{fmt.Sprintf("Body about topic %c.", 'A'+i)}, foot...))
	}
	for i, p := range Clean(pages) {
		if !slices.Equal(p, []string{fmt.Sprintf("Body about topic %c.", 'A'+i+1)}) {
			t.Errorf("page %d = %q, want the body alone", i+1, p)
		}
	}
}

// Man pages print their name at both ends of the running header: it becomes
// the page's title and leaves the text; a line that merely repeats below the
// header stays.
func TestTitles(t *testing.T) {
	page := func(name, body string) []string {
		return []string{name, "The Enhanced Machine Controller", name, "", "NAME", body, name}
	}
	pages := [][]string{
		page("AXIS(1)", "axis - AXIS GUI"),
		page("AXIS(1)", "more about axis"),
		page("HALCMD(1)", "halcmd - manipulate HAL"),
		{"no header here", "text"},
		page("HALCMD(1)", "unlinkp unlinks a pin"),
	}
	got := Titles(pages)
	if want := []string{"AXIS(1)", "AXIS(1)", "HALCMD(1)", "", "HALCMD(1)"}; !slices.Equal(got, want) {
		t.Fatalf("titles %q, want %q", got, want)
	}
	if want := []string{"NAME", "halcmd - manipulate HAL", "HALCMD(1)"}; !slices.Equal(pages[2], want) {
		t.Errorf("page 3 = %q, want %q", pages[2], want)
	}
	if !slices.Equal(pages[3], []string{"no header here", "text"}) {
		t.Errorf("page without a header changed: %q", pages[3])
	}
	marks := titleMarks(got)
	if len(marks) != 2 || marks[0].title != "AXIS(1)" || marks[1].page != 2 || !marks[1].top {
		t.Errorf("marks %+v: want one where the title changes (a page without one keeps the last), at the page top", marks)
	}

	// Under three such pages it is not a convention of the document.
	few := [][]string{{"X", "a", "X"}, {"X", "b", "X"}}
	if got := Titles(few); got[0] != "" || len(few[0]) != 3 {
		t.Errorf("two pages: titles %q, page %q", got, few[0])
	}
}

func TestCleanLine(t *testing.T) {
	tests := map[string]string{
		"  a \t b\u00a0c  ":   "a b c",
		"con\u00adfig\x00ure": "configure",
		"\ufb01le \ufb02ow":   "file flow",
		"主轴\u3000过热，检查":       "主轴过热，检查",
		"当前的 测试版 Debian 系统":   "当前的测试版 Debian 系统",
		"x\r":                 "x",
	}
	for in, want := range tests {
		if got := CleanLine(in); got != want {
			t.Errorf("CleanLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJoinLines(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"config-", "uration file"}, "configuration file"},
		{[]string{"X-", "Axis"}, "X- Axis"},
		{[]string{"the G-code", "reference"}, "the G-code reference"},
		{[]string{"主轴过热时，", "检查风扇。"}, "主轴过热时，检查风扇。"},
		{[]string{"设置 INI", "文件"}, "设置 INI 文件"},
		{[]string{"", " a ", "", "b"}, "a b"},
	}
	for _, tt := range tests {
		if got := JoinLines(tt.in); got != tt.want {
			t.Errorf("JoinLines(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanTableOfContents(t *testing.T) {
	got := Clean([][]string{{
		"Contents",
		"1.3 Getting Help . . . . . . . . . . . . . . . . . 2",
		"5.6 最佳 MTU 值的基本指引方法 . . . . . . . . . . 98",
		"Figure 3.10: Axis Travel and Home ........................ 165",
		"Preface . . . . . . . . xiv",
	}, {
		"The spindle stops... 2",                 // an ellipsis is not a leader
		"Set MAX_LIMIT to 7.5 . . . or leave it", // dots without a page number
		"G10 L1 sets the tool table. Version 2.9",
	}})
	if want := []string{"Contents"}; !slices.Equal(got[0], want) {
		t.Errorf("contents page = %q, want %q", got[0], want)
	}
	if len(got[1]) != 3 {
		t.Errorf("body page lost lines: %q", got[1])
	}
}

// A notice printed the same on every page is the text, not a running
// header: cleaning must not leave the document empty (it was refused as
// "scanned, needs OCR").
func TestCleanRepeatedPages(t *testing.T) {
	page := []string{"SAFETY NOTICE", "Press the red emergency stop before opening the guard.", "Lock out the main switch."}
	pages := Clean([][]string{page, page, page, page})
	for i, p := range pages {
		if len(p) != 3 {
			t.Fatalf("page %d kept %q", i+1, p)
		}
	}
	// A real running header still goes.
	pages = Clean([][]string{{"Manual", "one"}, {"Manual", "two"}, {"Manual", "three"}})
	for i, p := range pages {
		if len(p) != 1 || p[0] == "Manual" {
			t.Errorf("page %d = %q, want the header gone", i+1, p)
		}
	}
}
