package answer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shifu-factory/shifu"
)

var sealHit = shifu.Hit{Chunk: shifu.Chunk{ID: 7, Heading: "Pump P-101 maintenance > Seal leak",
	Text: "Pump P-101 maintenance > Seal leak\nIf pump P-101 leaks at the shaft, replace the mechanical seal (part MS-220).\n" +
		"Torque the gland bolts to 25 Nm in a cross pattern. Check for drips after 10 minutes of running."}}

// A citation without a quote gets the passage sentence behind its claim,
// not the passage's opening.
func TestQuoteFollowsTheClaim(t *testing.T) {
	zh := shifu.Hit{Chunk: shifu.Chunk{Heading: "报警 > E42", Text: "报警 > E42\n报警E42表示电机过热。让电机冷却30分钟，然后清洁风扇罩。如果再次报警，请联系维修。"}}
	long := shifu.Hit{Chunk: shifu.Chunk{Text: "Intro line.\nThe spindle encoder cable " + strings.Repeat("must be routed away from power cables and ", 8) + "fixed with clips."}}
	for _, c := range []struct {
		name, answer, question string
		hit                    shifu.Hit
		want                   string
	}{
		{"claim before the citation", "Replace the seal. Then tighten the gland bolts to 25 Nm [1].", "seal leak on P-101?", sealHit,
			"Torque the gland bolts to 25 Nm in a cross pattern."},
		{"citation opening its sentence", "[1] The seal to fit is part MS-220.", "which seal?", sealHit,
			"If pump P-101 leaks at the shaft, replace the mechanical seal (part MS-220)."},
		{"question decides when the claim says nothing", "See there [1].", "How long should it run before checking for drips?", sealHit,
			"Check for drips after 10 minutes of running."},
		{"Chinese", "先让电机冷却30分钟[1]。", "E42怎么处理？", zh, "让电机冷却30分钟，然后清洁风扇罩。"},
		{"nothing in common: the opening", "Yes [1].", "ok?", sealHit,
			"If pump P-101 leaks at the shaft, replace the mechanical seal (part MS-220). Torque the gland bolts to 25 Nm in a cross pattern. Check for drips after 10 minutes of running."},
	} {
		_, cites := verify(c.answer, c.question, []passage{{n: 1, hit: c.hit}}, "")
		if len(cites) != 1 || cites[0].Quote != c.want || !cites[0].Verified {
			t.Errorf("%s: citations %+v, want quote %q", c.name, cites, c.want)
		}
	}

	_, cites := verify("Route the encoder cable away from power cables [1].", "encoder cable?", []passage{{n: 1, hit: long}}, "en")
	q := cites[0].Quote
	if n := utf8.RuneCountInString(q); n > maxQuote+1 || !strings.HasPrefix(q, "The spindle encoder cable") || !strings.HasSuffix(q, "…") || !quoted(q, long.Text, "en") {
		t.Errorf("long sentence quoted as %q (%d characters)", q, n)
	}

	// The model's own verified quote, given later, replaces the one Shifu chose.
	_, cites = verify(`Torque to 25 Nm [1]. Check for drips [1] "Check for drips after 10 minutes".`, "", []passage{{n: 1, hit: sealHit}}, "en")
	if len(cites) != 1 || cites[0].Quote != "Check for drips after 10 minutes" || !cites[0].Verified {
		t.Errorf("later quote: %+v", cites)
	}
	// A later misquote flags a citation whose quote Shifu chose.
	_, cites = verify(`Torque to 25 Nm [1]. It is 40 Nm [1] "gland bolts to 40 Nm".`, "", []passage{{n: 1, hit: sealHit}}, "en")
	if len(cites) != 1 || cites[0].Verified {
		t.Errorf("later misquote: %+v", cites)
	}
}

// Whatever the passage and answer, the chosen quote is text of the passage
// (an ellipsis only where it was cut) and no longer than the cap.
func FuzzBestQuote(f *testing.F) {
	f.Add(sealHit.Text, "Tighten the gland bolts to 25 Nm [1].", "torque?")
	f.Add("报警E42表示电机过热。让电机冷却30分钟，然后清洁风扇罩。", "冷却30分钟[1]。", "E42")
	f.Add("a.b.c! d? e\n\nf", "[1]", "")
	f.Fuzz(func(t *testing.T, text, answer, question string) {
		if !utf8.ValidString(text) || strings.TrimSpace(text) == "" {
			return
		}
		h := shifu.Hit{Chunk: shifu.Chunk{Text: text}}
		q := bestQuote(h, claim(answer, len(answer), len(answer)), question, maxQuote)
		if n := utf8.RuneCountInString(q); n > maxQuote+1 {
			t.Fatalf("quote of %d characters", n)
		}
		if strings.TrimSpace(q) != "" && !quoted(q, text, "") {
			t.Fatalf("quote %q is not in the passage %q", q, text)
		}
	})
}

// TestUnitsTable: a run of lines with the same number of " | " cells is a
// table, its first line the header of every row; a lone shell pipeline is
// prose.
func TestUnitsTable(t *testing.T) {
	us := units("Alarms are listed below.\nCode | Meaning\nE-1 | low oil\nE-2 | door open\nThen reboot.\nRun dmesg | less to see them.")
	var got []string
	for _, u := range us {
		got = append(got, u.header+"/"+u.text)
	}
	want := "/Alarms are listed below.|Code | Meaning/E-1 | low oil|Code | Meaning/E-2 | door open|/Then reboot.|/Run dmesg | less to see them."
	if strings.Join(got, "|") != want {
		t.Fatalf("units = %q", strings.Join(got, "|"))
	}
}

// TestSpan: a quote is found in its passage as quoted() finds it (white
// space ignored, so spaced-out Chinese PDF text matches; case and
// full-width forms folded; an ellipsis skipping text), and the span given
// is the passage's own bytes.
func TestSpan(t *testing.T) {
	text := "Homing\nPress the RESET key.\n主轴 每 运转 2000 小时 润滑 一次。 Ｅ－１０４ means overload."
	for _, tc := range []struct {
		quotes []string
		want   string // the passage text spanned; "" when not found
	}{
		{[]string{"press the reset key"}, "Press the RESET key"},
		{[]string{"主轴每运转2000小时润滑一次。"}, "主轴 每 运转 2000 小时 润滑 一次。"},
		{[]string{"E-104 means"}, "Ｅ－１０４ means"},
		{[]string{"Press the … key."}, "Press the RESET key."},
		{[]string{"RESET key.", "润滑一次"}, "RESET key.\n主轴 每 运转 2000 小时 润滑 一次"},
		{[]string{"润滑一次", "RESET key"}, ""}, // out of order
		{[]string{"press the green key"}, ""},
	} {
		from, to, ok := span(text, tc.quotes)
		got := ""
		if ok {
			got = text[from:to]
		}
		if got != tc.want {
			t.Errorf("span(%q) = %q, want %q", tc.quotes, got, tc.want)
		}
	}
}
