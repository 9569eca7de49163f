package answer_test

import (
	"strings"
	"testing"

	"github.com/shifu-factory/shifu/answer"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

var lube = []string{
	"Maintenance > Way lube\nThe way lube pump is driven by the spindle motor. It starts with the spindle and stops with it. " +
		"Check the sight glass at the start of every shift. The reservoir holds 2 litres of way oil. " +
		"Use ISO VG 68 slideway oil only; other grades clog the metering units. Wipe the filler cap before opening it. " +
		"Do not overfill the reservoir above the MAX mark. Old oil goes to the waste oil drum, never into the drain.",
	"Alarms\nCode | Meaning | Action\nE-104 | spindle overload | reduce the feed rate\nE-105 | coolant pressure low | check the coolant filter\nE-106 | door open | close the guard door",
	"Licence\nThis manual is free software; you can redistribute it under the terms of the GNU General Public License.",
}

// TestExtractiveAnswerQuotesTheSentence: with no model the answer quotes the
// sentence that answers, not the passage's opening, under the name of its
// section, with one notice that says no model is configured.
func TestExtractiveAnswerQuotesTheSentence(t *testing.T) {
	f := setupWith(t, lube)
	s := answer.New(f.db, f.searcher, nil, answer.Options{})
	a, _ := ask(t, s, f, "How much way oil does the reservoir hold?")
	if !a.Degraded || !strings.Contains(a.Text, "The reservoir holds 2 litres of way oil.") {
		t.Fatalf("the fact is not quoted:\n%s", a.Text)
	}
	if !strings.HasPrefix(a.Text, "Way lube:\n“") {
		t.Errorf("the answer does not name the section it quotes first:\n%s", a.Text)
	}
	if strings.Contains(a.Text, "driven by the spindle motor") {
		t.Errorf("quotes sentences that do not answer:\n%s", a.Text)
	}
	if n := strings.Count(a.Text, "No model is configured"); n != 1 || strings.Contains(a.Text, "right now") {
		t.Errorf("notice appears %d times or is worded for a failure:\n%s", n, a.Text)
	}
	if strings.Contains(a.Text, "GNU") || strings.Contains(a.Text, "[2]") {
		t.Errorf("an unrelated passage is quoted:\n%s", a.Text)
	}
	if len(a.Citations) != 1 || !strings.Contains(a.Citations[0].Quote, "2 litres") || a.Citations[0].PageStart != 10 {
		t.Errorf("citations = %+v, want the sentence on p. 10", a.Citations)
	}
}

// TestExtractiveAnswerTableRow: a table row that answers is shown with its
// header row, as a small table.
func TestExtractiveAnswerTableRow(t *testing.T) {
	f := setupWith(t, lube)
	s := answer.New(f.db, f.searcher, nil, answer.Options{})
	a, _ := ask(t, s, f, "What does alarm E-105 mean?")
	for _, want := range []string{"| Code | Meaning | Action |", "| --- | --- | --- |", "| E-105 | coolant pressure low | check the coolant filter |"} {
		if !strings.Contains(a.Text, want) {
			t.Errorf("answer lacks %q:\n%s", want, a.Text)
		}
	}
	if strings.Contains(a.Text, "door open") {
		t.Errorf("a row that does not answer is shown:\n%s", a.Text)
	}
}

// TestExtractiveAnswerListItem: a short list item is quoted whole, its
// second sentence with its first: the item that names the code says what to
// do about it.
func TestExtractiveAnswerListItem(t *testing.T) {
	f := setupWith(t, []string{"Modbus > Error codes\nThe drive answers with an exception code.\n" +
		"• 0x05 - ACKNOWLEDGE - The request takes long. Poll for completion.\n" +
		"• 0x06 - SLAVE_DEVICE_BUSY - The slave is BUSY. Retransmit the request later.\n" +
		"• 0x06 - SERVER_BUSY - (see above).\n" +
		"• 0x07 - NEGATIVE_ACKNOWLEDGE - Programming failed."})
	s := answer.New(f.db, f.searcher, nil, answer.Options{})
	a, _ := ask(t, s, f, "The Modbus drive reports exception 0x06. What does it mean?")
	if !strings.Contains(a.Text, "The slave is BUSY. Retransmit the request later.") {
		t.Fatalf("the list item is not quoted whole:\n%s", a.Text)
	}
}

// TestExtractiveAnswerChineseQuestion: a Chinese question answered from an
// English manual quotes the English under a Chinese lead that says so, and
// the notice is in Chinese.
func TestExtractiveAnswerChineseQuestion(t *testing.T) {
	f := setupWith(t, lube)
	s := answer.New(f.db, f.searcher, nil, answer.Options{})
	a, _ := ask(t, s, f, "报警 E-105 是什么意思？")
	if !strings.Contains(a.Text, "手册原文（英文）：") || !strings.Contains(a.Text, "E-105 | coolant pressure low") || !strings.Contains(a.Text, "未配置模型") {
		t.Fatalf("answer:\n%s", a.Text)
	}
}

// TestExtractiveAnswerGlosses: an English quote for a Chinese question
// comes with the question's words paired with the quote's words that
// translate them, after the lead and before the quote; an English
// question's answer has no such line.
func TestExtractiveAnswerGlosses(t *testing.T) {
	f := setupWith(t, lube)
	s := answer.New(f.db, f.searcher, nil, answer.Options{})
	a, _ := ask(t, s, f, "主轴带的润滑泵什么时候启动？")
	lead := strings.Index(a.Text, "手册原文（英文）：\n词语对照：")
	quote := strings.Index(a.Text, "“")
	if lead < 0 || quote < lead {
		t.Fatalf("no gloss line between the lead and the quote:\n%s", a.Text)
	}
	line := a.Text[lead:]
	line = line[:strings.Index(line, "“")]
	for _, want := range []string{"主轴 = spindle", "润滑 = lube"} {
		if !strings.Contains(line, want) {
			t.Errorf("gloss line %q lacks %q", line, want)
		}
	}
	en, _ := ask(t, s, f, "When does the way lube pump start?")
	if strings.Contains(en.Text, "词语对照") {
		t.Errorf("an English question's answer has a gloss line:\n%s", en.Text)
	}
}

// TestExtractiveAnswerLeadOnce: two English quotes for a Chinese question
// share one lead; each word is glossed once.
func TestExtractiveAnswerLeadOnce(t *testing.T) {
	f := setupWith(t, []string{
		"Spindle > Lube\nThe way lube pump is driven by the spindle motor. It starts with the spindle.",
		"Spindle > Warm-up\nRun the spindle at low speed for ten minutes before the first cut of the day.",
	})
	s := answer.New(f.db, f.searcher, nil, answer.Options{})
	a, _ := ask(t, s, f, "主轴的润滑泵什么时候启动？主轴开工前要低速预热几分钟？")
	if len(a.Citations) != 2 {
		t.Fatalf("want both passages quoted (else this test proves nothing), got %d citations:\n%s", len(a.Citations), a.Text)
	}
	if n := strings.Count(a.Text, "手册原文（英文）："); n != 1 {
		t.Errorf("the lead is written %d times; once for English quotes that follow each other:\n%s", n, a.Text)
	}
	if n := strings.Count(a.Text, "主轴 = "); n != 1 {
		t.Errorf("主轴 is glossed %d times, want once:\n%s", n, a.Text)
	}
}

// TestExtractiveNoticeWhenModelFails: a configured model that fails gets its
// own notice, once.
func TestExtractiveNoticeWhenModelFails(t *testing.T) {
	f := setupWith(t, lube)
	srv := llmtest.NewServer(t, llmtest.Options{Fail: func(int, llmtest.Request) *llmtest.Step {
		return &llmtest.Step{Status: 503}
	}})
	s := answer.New(f.db, f.searcher, chat(t, srv), answer.Options{})
	a, _ := ask(t, s, f, "How much way oil does the reservoir hold?")
	if !a.Degraded || strings.Count(a.Text, "The model could not answer just now") != 1 || strings.Contains(a.Text, "configured") {
		t.Fatalf("answer:\n%s", a.Text)
	}
}
