package web_test

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

// phoneData fills acme with what a real desk and admin page show: a corpus
// manual, a document with two versions, a long Chinese file name, a note,
// gaps with long questions, a bot, a token and their audit entries.
func phoneData(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	html, err := os.ReadFile(corpusDoc(t, "gcode.html"))
	if err != nil {
		t.Fatal(err)
	}
	ids := w.ingestReady(part{"file", "LinuxCNC_Integrator.pdf", readAll(t, corpusDoc(t, "LinuxCNC_Integrator.pdf"))},
		part{"file", "gcode.html", html},
		part{"file", "数控加工中心主轴与刀库日常维护保养操作规程_2024年第三次修订稿_适用于全部立式与卧式机型.md",
			[]byte("# 主轴维护\n\n每班开机前检查主轴润滑油位，油位低于下限时补充 ISO VG32 主轴油。\n")})
	sup := w.token("supervisor")
	rev := append(append([]byte{}, html...), []byte("\n<p>Revision B: G64 path blending tolerance defaults changed.</p>\n")...)
	if code, out := sup.upload("/api/documents/"+num(ids[1])+"/revision", part{"revision", "", []byte("B")}, part{"file", "gcode-rev-b.html", rev}); code != http.StatusOK {
		t.Fatalf("revision: %d %v", code, out)
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if _, err := w.ingest.Wait(wctx, w.acme.ID, w.newest(ids), nil); err != nil {
		t.Fatal(err)
	}
	if code := sup.json("POST", "/api/notes", map[string]any{"title": "Spindle VFD fault F0001 after a cold start", "equipment": "VMC-850 Siemens G120C",
		"symptom": "F0001 overcurrent", "fix": "Let the drive warm up 5 min; check the brake resistor wiring."}, nil); code != 201 {
		t.Fatalf("note: %d", code)
	}
	for _, q := range []string{"asdfgh qwerty",
		"ESTOP_LATCH_CIRCUIT_FAULT_0x7F3A_ON_AXIS_Z_SERVO_DRIVE_DURING_TOOL_CHANGE what now?",
		"换刀时 Z 轴伺服驱动器报 ESTOP_LATCH_CIRCUIT_FAULT_0x7F3A 怎么处理？",
		"How do I re-home the Z axis after the E-stop latch faults during a tool change?"} {
		w.gap(q, w.users["worker"])
	}
	adm := w.token("admin")
	if code := adm.json("POST", "/api/bots", map[string]any{"platform": "slack", "external_id": "T0ACMEFACTORYFLOORMAINTENANCE",
		"secret": "slack-signing-secret-1", "token": "xoxb-acme-bot-token"}, nil); code != 201 {
		t.Fatalf("bot: %d", code)
	}
	if code := adm.json("POST", "/api/tokens", map[string]any{"user_id": w.users["supervisor"].ID, "name": "MES integration for line 3 (night shift dashboards)"}, nil); code != 201 {
		t.Fatalf("token: %d", code)
	}
	if code := adm.json("POST", "/api/users", map[string]any{"login": "zhang.wei.maintenance.lead.building.b", "name": "张伟（B 栋设备维修组长）", "role": "supervisor"}, nil); code != 201 {
		t.Fatalf("user: %d", code)
	}
}

// fits is how far the page is wider than the phone: document.scrollingElement.scrollWidth
// over the viewport width, after the page's data has loaded.
func fits(t *testing.T, ctx context.Context, what string) int {
	t.Helper()
	return run(t, ctx, what+" width", chromedp.Evaluate[int](`document.scrollingElement.scrollWidth - window.innerWidth`))
}

// offScreen lists the buttons matching sel that are not within the
// viewport's width (Delete, New revision: they must be reachable).
func offScreen(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return run(t, ctx, "off screen", chromedp.Evaluate[string](`Array.from(document.querySelectorAll('`+sel+`')).filter(b => {
		const r = b.getBoundingClientRect(); return r.width === 0 || r.left < 0 || r.right > window.innerWidth;
	}).map(b => b.textContent + '@' + Math.round(b.getBoundingClientRect().right)).join(', ')`))
}

func logout(w *world) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Submit(css(`header.top nav form`)), chromedp.WaitVisible(css(`input[name=tenant]`)))
}

// TestBrowserPhonePages: at 390×844, in English and Chinese, the desk (with
// its versions), the gaps page and the admin page are no wider than the
// phone, with real data; Delete and New revision are on screen; admin
// tables have header rows; recent activity is words, not JSON.
func TestBrowserPhonePages(t *testing.T) {
	ctx, dir := browser(t, 390, 844)
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: "unused"}})
	phoneData(t, w)
	do(t, ctx, "login", loginAs(w, "acme", "supervisor"))
	for _, lang := range []string{"en", "zh"} {
		do(t, ctx, "desk "+lang, chromedp.Navigate(w.http.URL+"/desk?lang="+lang),
			chromedp.WaitVisible(css(`#docs tbody tr td.actions-cell button.danger`)))
		// The document with two versions lists both, each downloadable.
		do(t, ctx, "versions", chromedp.Click(css(`#docs details summary`)), chromedp.WaitVisible(css(`#docs .versions li[data-version="1"] a`)))
		vs := run(t, ctx, "versions", chromedp.Evaluate[string](`Array.from(document.querySelectorAll('#docs .versions li')).map(l => l.dataset.version + ':' + l.textContent).join('|')`))
		shot(t, ctx, dir, "desk-"+lang)
		if !strings.Contains(vs, "2:v2 (B) · gcode-rev-b.html") || !strings.Contains(vs, "1:v1 · gcode.html") {
			t.Errorf("%s: versions listed %q", lang, vs)
		}
		rows := run(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll('#docs tbody tr').length`))
		if rows != 4 {
			t.Errorf("%s: desk lists %d documents, want 4", lang, rows)
		}
		if n := fits(t, ctx, "desk"); n > 0 {
			t.Errorf("%s: the desk is %d px wider than the phone", lang, n)
		}
		if off := offScreen(t, ctx, `#docs td.actions-cell button`); off != "" {
			t.Errorf("%s: desk buttons off screen: %s", lang, off)
		}
		if n := run(t, ctx, "revision buttons", chromedp.Evaluate[int](`document.querySelectorAll('#docs td.actions-cell button').length`)); n != 3*3+2 { // New revision, Re-process, Delete on each manual; the note has no New revision
			t.Errorf("%s: %d action buttons on the desk", lang, n)
		}

		do(t, ctx, "gaps "+lang, chromedp.Navigate(w.http.URL+"/gaps?lang="+lang), chromedp.WaitVisible(css(`#gaps li[data-id] button.dismiss`)))
		shot(t, ctx, dir, "gaps-"+lang)
		if n := fits(t, ctx, "gaps"); n > 0 {
			t.Errorf("%s: the gaps page is %d px wider than the phone", lang, n)
		}
		if off := offScreen(t, ctx, `#gaps button`); off != "" {
			t.Errorf("%s: gap buttons off screen: %s", lang, off)
		}
	}
	do(t, ctx, "admin", logout(w), loginAs(w, "acme", "admin"))
	for _, lang := range []string{"en", "zh"} {
		do(t, ctx, "admin "+lang, chromedp.Navigate(w.http.URL+"/admin?lang="+lang),
			chromedp.WaitVisible(css(`#users tbody tr`)), chromedp.WaitVisible(css(`#tokens tbody tr`)),
			chromedp.WaitVisible(css(`#bots tbody tr`)), chromedp.WaitVisible(css(`#audit li`)))
		shot(t, ctx, dir, "admin-"+lang)
		if n := fits(t, ctx, "admin"); n > 0 {
			t.Errorf("%s: the admin page is %d px wider than the phone", lang, n)
		}
		heads := run(t, ctx, "headers", chromedp.Evaluate[string](`['users', 'tokens', 'bots'].map(id => document.querySelectorAll('#' + id + ' thead th').length).join(',')`))
		if heads != "4,5,4" {
			t.Errorf("%s: header cells of users, tokens, bots: %s", lang, heads)
		}
		audit := run(t, ctx, "audit", chromedp.Text(css(`#audit`)))
		if strings.ContainsAny(audit, "{}") || strings.Contains(audit, `"id"`) || !strings.Contains(audit, "gcode-rev-b.html v2") {
			t.Errorf("%s: recent activity reads %q", lang, audit)
		}
		want := map[string]string{"en": "added a bot", "zh": "添加机器人"}[lang]
		if !strings.Contains(audit, want) {
			t.Errorf("%s: recent activity lacks %q: %q", lang, want, audit)
		}
		if off := offScreen(t, ctx, `#users button, #tokens button, #bots button`); off != "" {
			t.Errorf("%s: admin buttons off screen: %s", lang, off)
		}
	}
}

// TestBrowserGapActions: on the gaps page a supervisor dismisses a gap and
// undoes it, merges two wordings of one question and answers the merged gap
// with a note; the worker who asked sees it on their next visit to the chat
// until they mark it seen. And the chips say 第 N 页 in Chinese.
func TestBrowserGapActions(t *testing.T) {
	ctx, dir := browser(t, 390, 844)
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: "Let the motor cool for 30 minutes and clean the fan cover [1]."}})
	pdf, err := os.ReadFile("testdata/sample.pdf")
	if err != nil {
		t.Fatal(err)
	}
	w.ingestReady(part{"file", "spindle.pdf", pdf})
	for _, q := range []string{"asdfgh qwerty", "How do I reset the AGV after alarm 31?", "AGV alarm 31: how to reset it"} {
		w.gap(q, w.users["worker"])
	}
	count := func(sel string) int {
		return run(t, ctx, "count "+sel, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
	}
	do(t, ctx, "gaps", loginAs(w, "acme", "supervisor"), chromedp.Navigate(w.http.URL+"/gaps?lang=en"), chromedp.WaitVisible(css(`#gaps li[data-id] button.dismiss`)))
	if n := count(`#gaps li[data-id]`); n != 3 {
		t.Fatalf("%d open gaps, want 3", n)
	}
	// Dismiss the junk (the oldest, last in the list): it moves to the dismissed list, with who.
	do(t, ctx, "dismiss", chromedp.Click(css(`#gaps li[data-id]:last-child button.dismiss`)), chromedp.WaitVisible(css(`#dismissed li button.reopen`)))
	dismissed := run(t, ctx, "dismissed", chromedp.Text(css(`#dismissed li`)))
	if !strings.Contains(dismissed, "asdfgh qwerty") || !strings.Contains(dismissed, "dismissed by Acme supervisor") || count(`#gaps li[data-id]`) != 2 {
		t.Fatalf("dismissed list %q, open %d", dismissed, count(`#gaps li[data-id]`))
	}
	shot(t, ctx, dir, "gaps-dismissed")
	do(t, ctx, "undo", chromedp.Click(css(`#dismissed li button.reopen`)))
	run(t, ctx, "reopened", chromedp.Poll[bool](`document.querySelectorAll('#gaps li[data-id]').length === 3 && document.getElementById('dismissed-card').hidden`, chromedp.WithPollingTimeout(10*time.Second)))

	// Merge the two AGV questions (the newest two).
	do(t, ctx, "merge",
		chromedp.Click(css(`#gaps li[data-id]:nth-child(1) input.select`)),
		chromedp.Click(css(`#gaps li[data-id]:nth-child(2) input.select`)),
		chromedp.Click(css(`#merge`)))
	if !run(t, ctx, "merged", chromedp.Poll[bool](`document.querySelector('#gaps li[data-id] .also') !== null`, chromedp.WithPollingTimeout(10*time.Second))) {
		t.Fatalf("no merged gap: %s", run(t, ctx, "state", chromedp.Evaluate[string](`document.getElementById('gaps-msg').textContent + '|' +
			Array.from(document.querySelectorAll('#gaps input.select')).map(c => c.checked).join(',')`)))
	}
	do(t, ctx, "merged list")
	if n := count(`#gaps li[data-id]`); n != 2 {
		t.Fatalf("%d gaps after the merge, want 2", n)
	}
	also := run(t, ctx, "also", chromedp.Text(css(`#gaps li[data-id] .also`)))
	if !strings.Contains(also, "How do I reset the AGV after alarm 31?") {
		t.Fatalf("merged gap shows %q", also)
	}
	shot(t, ctx, dir, "gaps-merged")
	// Answer it with a note.
	do(t, ctx, "answer",
		chromedp.Click(css(`#gaps li[data-id]:first-child button.answer-gap`)),
		chromedp.WaitVisible(css(`#note textarea[name=fix]`)),
		chromedp.SendKeys(css(`#note textarea[name=fix]`), "Press RESET on the AGV panel, then re-home it."),
		chromedp.Click(css(`#note button[type=submit]`)))
	run(t, ctx, "answered", chromedp.Poll[bool](`document.querySelectorAll('#gaps li[data-id]').length === 1`, chromedp.WithPollingTimeout(30*time.Second)))

	// The worker's next visit: the notice, in Chinese, opens the note's page.
	do(t, ctx, "worker", logout(w), loginAs(w, "acme", "worker"), chromedp.Navigate(w.http.URL+"/?lang=zh"), chromedp.WaitVisible(css(`#answered li`)))
	notice := run(t, ctx, "notice", chromedp.Text(css(`#answered`)))
	href := run(t, ctx, "note link", chromedp.AttributeValue(css(`#answered a.open-note`), "href")).Value
	shot(t, ctx, dir, "chat-notice-zh")
	if !strings.Contains(notice, "你的问题现在有答案了") || !strings.Contains(notice, "AGV alarm 31: how to reset it") || !strings.HasPrefix(href, "/documents/") {
		t.Fatalf("notice %q, link %q", notice, href)
	}
	if resp := w.session("worker").do("GET", href, nil, ""); resp.StatusCode != http.StatusFound {
		t.Fatalf("the notice's link %s answers %d", href, resp.StatusCode)
	}
	if n := fits(t, ctx, "chat"); n > 0 {
		t.Errorf("the chat page with the notice is %d px wider than the phone", n)
	}
	do(t, ctx, "seen", chromedp.Click(css(`#answered button.seen`)))
	run(t, ctx, "hidden", chromedp.Poll[bool](`document.getElementById('answered').hidden`, chromedp.WithPollingTimeout(10*time.Second)))
	do(t, ctx, "next visit", chromedp.Navigate(w.http.URL+"/?lang=zh"), chromedp.WaitVisible(css(`#question`)), chromedp.Sleep(time.Second))
	if shown := run(t, ctx, "again", chromedp.Evaluate[bool](`!document.getElementById('answered').hidden`)); shown {
		t.Fatal("the notice came back after it was marked seen")
	}

	// Chinese chips say 第 N 页.
	done, _ := ask(t, ctx, "How do I connect the spindle drive?")
	chip := run(t, ctx, "chip", chromedp.Text(css(`.chip .t`)))
	if done != "1" || !regexpPage.MatchString(chip) {
		t.Fatalf("chip %q (done %q); want 第 N 页", chip, done)
	}
}

var regexpPage = regexp.MustCompile(`第 \d+(–\d+)? 页`)
