package retrieval

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/terms"
)

func TestExpandSynonyms(t *testing.T) {
	q := []string{"detach", "pin", "unlink"}
	syn := []terms.Synonym{
		{Of: []string{"detach"}, Terms: []string{"unlink"}},     // already asked: keeps 1
		{Of: []string{"detach"}, Terms: []string{"disconnect"}}, // 0.5
		{Of: []string{"estop"}, Terms: []string{"emerg", "stop"}},
		{Of: []string{"pin"}, Terms: []string{"stop"}}, // larger weight wins
	}
	got, w := expandSynonyms(q, syn, 0.5)
	want := []string{"detach", "pin", "unlink", "disconnect", "emerg", "stop"}
	wantW := []float64{1, 1, 1, 0.5, 0.25, 0.5}
	if !slices.Equal(got, want) || !slices.Equal(w, wantW) {
		t.Fatalf("got %v %v, want %v %v", got, w, want, wantW)
	}
	if got, w := expandSynonyms(q, nil, 0.5); !slices.Equal(got, q) || w != nil {
		t.Fatalf("no synonyms: got %v %v", got, w)
	}
}

var sharedAnalyzer = sync.OnceValues(terms.New)

// TestSynonymsFindTheManualsWords: the worker's words (工控机, 拔电; detach)
// are not the manual's (计算机, 断电; unlink). The glossary finds the
// manual's page and counts its words as covering the question, so Shifu
// answers instead of abstaining; without it, it would not.
func TestSynonymsFindTheManualsWords(t *testing.T) {
	ctx := context.Background()
	a, err := sharedAnalyzer()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"怎样关闭系统：计算机断电以前需要适当的关机过程，把内存中的数据写入硬盘，否则文件可能损坏。",
		"网络配置：用 ip 命令查看网卡的地址和路由。",
		"软件包管理：用 apt 安装、升级和删除软件包。",
		"打印机：用 CUPS 添加和配置打印机。",
		"unlinkp pinname: unlinks the pin from the signal it is connected to. Useful for trouble shooting.",
		"linksp signame pinname: links the signal to a pin, like net.",
		"show pin: lists every pin with its type, direction and signal.",
		"setp pinname value: sets the value of an unconnected pin.",
	}
	db, tenant := libraryOf(t, a, texts)
	for _, c := range []struct {
		q    string
		want int
	}{
		{"那台工控机能直接拔电关机吗", 0},
		{"how do I detach a pin from its signal", 4},
	} {
		with, err := New(db, a, nil, Options{}).Retrieve(ctx, tenant, Query{Text: c.q, K: 3})
		if err != nil {
			t.Fatal(err)
		}
		if with.Abstain || len(with.Hits) == 0 || with.Hits[0].Text != texts[c.want] {
			t.Errorf("%q: abstain %v (confidence %.2f), hits %v", c.q, with.Abstain, with.Confidence, with.Hits)
		}
		without, err := New(db, a, nil, Options{SynonymWeight: -1}).Retrieve(ctx, tenant, Query{Text: c.q, K: 3})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%q: confidence %.2f with the glossary, %.2f without (first hit %.20q)", c.q, with.Confidence, without.Confidence, without.Hits[0].Text)
		if without.Confidence >= with.Confidence {
			t.Errorf("%q: confidence %.2f without the glossary, %.2f with", c.q, without.Confidence, with.Confidence)
		}
	}
}

// A heading naming a synonym of the question's word (Reload for re-read)
// names the question's topic as much as the word itself would.
func TestHeadingBoostCountsSynonyms(t *testing.T) {
	s := New(nil, words{}, nil, Options{HeadingBoost: 0.4})
	r := run{
		terms: []string{"reread", "tool"},
		syn:   []terms.Synonym{{Of: []string{"reread"}, Terms: []string{"reload"}}},
		cand:  shifu.Candidates{Stats: shifu.TermStats{N: 100, DF: map[string]int{"reread": 1, "tool": 30, "reload": 2}}},
	}
	fs := []*fused{
		{hit: shifu.Hit{Chunk: shifu.Chunk{ID: 1, Heading: "Tool Table"}}},
		{hit: shifu.Hit{Chunk: shifu.Chunk{ID: 2, Heading: "Reload Tool Table"}}},
		{hit: shifu.Hit{Chunk: shifu.Chunk{ID: 3, Heading: "Reread Tool Table"}}},
	}
	s.boostHeading(fs, r)
	if !(fs[1].score > fs[0].score && fs[1].score == fs[2].score && fs[0].score > 0) {
		t.Fatalf("boosts: tool %.3f, reload %.3f, reread %.3f", fs[0].score, fs[1].score, fs[2].score)
	}
}

// TestBackoffSearchesUnknownWordsByCharacters: a worker's word no chunk holds
// (删了) is searched by its characters, so the passage about deleting wins
// over one that only shares the question's other words.
func TestBackoffSearchesUnknownWordsByCharacters(t *testing.T) {
	ctx := context.Background()
	a, err := sharedAnalyzer()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"共享目录：目录里的文件可以复制、移动和改名，目录的权限决定谁能写入。",
		"粘滞位：给目录设置粘滞位后，文件只有所有者才能删除。",
		"网络配置：用 ip 命令查看网卡的地址和路由。",
		"软件包管理：用 apt 安装、升级软件包。",
		"打印机：用 CUPS 添加和配置打印机。",
	}
	db, tenant := libraryOf(t, a, texts)
	const q = "目录里的文件老被别人删了"
	first := func(o Options) string {
		t.Helper()
		r, err := New(db, a, nil, o).Retrieve(ctx, tenant, Query{Text: q, K: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Hits) == 0 {
			t.Fatalf("%q: no hits", q)
		}
		return r.Hits[0].Text
	}
	if got := first(Options{}); got != texts[1] {
		t.Errorf("%q: first hit %q, want %q", q, got, texts[1])
	}
	off := Defaults().BM25
	off.Backoff = -1
	if got := first(Options{BM25: off}); got != texts[0] {
		t.Errorf("%q without back-off: first hit %q; the test no longer needs back-off", q, got)
	}
}
