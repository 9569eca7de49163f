package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
	"github.com/shifu-factory/shifu/internal/testenv"
)

// browser starts a headless Chromium for the test, with a fresh profile.
func browser(t *testing.T, width, height int) (context.Context, string) {
	t.Helper()
	path := os.Getenv("SHIFU_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	_, err := exec.LookPath(path)
	testenv.Need(t, err == nil, "browser tests need Chromium at "+path+" (apt-get install chromium, or set SHIFU_CHROMIUM)")
	if testing.Short() {
		t.Skip("browser tests are skipped with -short")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if width < 600 {
		// A phone: the layout viewport as well as the window.
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height), chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
	}
	dir := os.Getenv("SHIFU_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return ctx, dir
}

func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

func loginAs(w *world, tenant, login string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(w.http.URL+"/login?lang=en"),
		chromedp.WaitVisible(css(`input[name=tenant]`)),
		chromedp.SendKeys(css(`input[name=tenant]`), tenant),
		chromedp.SendKeys(css(`input[name=login]`), login),
		chromedp.SendKeys(css(`input[name=password]`), password),
		chromedp.Submit(css(`#login-form`)),
		chromedp.WaitVisible(css(`header.top nav form`)),
	)
}

const spindleReply = `Connect the spindle drive to the controller, then check the wiring twice [1] "check the wiring twice". ` +
	`Use **shielded cable** for the encoder signals.`

// ask types a question and waits for the answer to finish. It returns how the
// answer ended ("1" or "error") and how many DOM changes the answer made on the
// way, so a streamed answer can be told from one that arrived whole.
func ask(t *testing.T, ctx context.Context, q string) (done string, changes int) {
	t.Helper()
	do(t, ctx, "ask",
		chromedp.WaitVisible(css(`#question`)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`window.__changes = 0; new MutationObserver(() => window.__changes++).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true}); true`)(ctx, tg)
			return err
		}),
		chromedp.SendKeys(css(`#question`), q),
		chromedp.Click(css(`#send`)),
		chromedp.WaitVisible(css(`.msg.assistant[data-done]`)),
	)
	done = run(t, ctx, "done", chromedp.AttributeValue(css(`.msg.assistant[data-done]`), "data-done")).Value
	changes = run(t, ctx, "changes", chromedp.Evaluate[int](`window.__changes`))
	return done, changes
}

func TestBrowserSupervisorUploadsThenWorkerAsks(t *testing.T) {
	ctx, dir := browser(t, 1280, 900)
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: spindleReply, Chunk: 4, ChunkDelay: 15 * time.Millisecond}})
	pdf, err := filepath.Abs("testdata/sample.pdf")
	if err != nil {
		t.Fatal(err)
	}

	// The supervisor uploads a PDF and watches it reach ready.
	do(t, ctx, "upload",
		loginAs(w, "acme", "supervisor"),
		chromedp.WaitVisible(css(`#drop`)),
		chromedp.SetUploadFiles(css(`#files`), []string{pdf}),
		chromedp.WaitVisible(css(`li.upload[data-status="ready"], li.upload[data-status="failed"]`)),
		chromedp.WaitVisible(css(`#docs tbody tr`)),
	)
	state := run(t, ctx, "state", chromedp.Text(css(`li.upload .state`)))
	shot(t, ctx, dir, "1-desk-uploaded")
	if !strings.HasPrefix(state, "Ready") {
		t.Fatalf("upload ended as %q", state)
	}
	// A version searchable while its figure pages are still read by OCR
	// says so in the list.
	docs, err := w.db.Documents(context.Background(), w.acme.ID, false)
	if err != nil || len(docs) != 1 {
		t.Fatalf("documents: %v, %d", err, len(docs))
	}
	p := docs[0].Progress
	p.OCRPending = 3
	if err := w.db.SetProgress(context.Background(), w.acme.ID, docs[0].VersionID, p); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "desk again", chromedp.Navigate(w.http.URL+"/desk"), chromedp.WaitVisible(css(`#docs tbody tr`)))
	row := run(t, ctx, "row", chromedp.Text(css(`#docs tbody tr`)))
	shot(t, ctx, dir, "1b-desk-figures-pending")
	if !strings.Contains(row, "reading figure pages: 3") {
		t.Errorf("desk row %q; want it to say 3 figure pages are being read", row)
	}
	p.OCRPending = 0
	if err := w.db.SetProgress(context.Background(), w.acme.ID, docs[0].VersionID, p); err != nil {
		t.Fatal(err)
	}

	// Then asks about it, sees the answer stream in with a citation, and opens the cited page.
	do(t, ctx, "chat page", chromedp.Navigate(w.http.URL+"/"))
	done, changes := ask(t, ctx, "How do I connect the spindle drive?")
	chip := run(t, ctx, "chip", chromedp.Text(css(`.chip .t`)))
	answerHTML := run(t, ctx, "answer", chromedp.InnerHTML(css(`.msg.assistant .body`)))
	shot(t, ctx, dir, "2-chat-answer")
	if done != "1" || changes < 5 {
		t.Fatalf("answer done=%q after %d DOM changes; want a streamed answer", done, changes)
	}
	page := regexp.MustCompile(`p\. (\d+)(–\d+)?`).FindStringSubmatch(chip)
	if !strings.Contains(chip, "Spindle Manual") || page == nil || !strings.Contains(answerHTML, "<strong>shielded cable</strong>") {
		t.Fatalf("chip %q, answer %s", chip, answerHTML)
	}
	// The quote is on page 2 of a passage over pp. 1-2: the chip
	// cites the quote's page, not the passage's.
	if page[0] != "p. 2" {
		t.Errorf("chip %q cites %q, want p. 2, the page the quote is on", chip, page[0])
	}
	do(t, ctx, "open citation", chromedp.Click(css(`.chip`)), chromedp.WaitVisible(css(`#viewer-img`)))
	imgWidth := run(t, ctx, "image", chromedp.Poll[int](`document.getElementById('viewer-img').complete && document.getElementById('viewer-img').naturalWidth`,
		chromedp.WithPollingTimeout(30*time.Second)))
	link := run(t, ctx, "link", chromedp.AttributeValue(css(`#viewer-link`), "href")).Value
	title := run(t, ctx, "title", chromedp.Text(css(`#viewer-title`)))
	shot(t, ctx, dir, "3-cited-page")
	// The viewer opens page 2.
	if imgWidth < 200 || !strings.HasSuffix(link, "/original?v=1#page=2") || !strings.HasSuffix(title, "p. 2") {
		t.Fatalf("page image %d px wide, link %q, title %q", imgWidth, link, title)
	}

	// Thumbs down with a comment.
	do(t, ctx, "feedback",
		chromedp.Click(css(`#viewer-close`)),
		chromedp.Click(css(`.rate .down`)),
		chromedp.SendKeys(css(`.rate .comment input`), "the torque is missing"),
		chromedp.Click(css(`.rate .comment button`)),
		chromedp.Sleep(500*time.Millisecond),
	)
	if status := run(t, ctx, "status", chromedp.Text(css(`.rate [role=status]`))); !strings.Contains(status, "Thank you") {
		t.Fatalf("feedback status %q", status)
	}
}

func TestBrowserPhone(t *testing.T) {
	ctx, dir := browser(t, 390, 844)
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: "Let the motor cool for 30 minutes and clean the fan cover [1]."}})
	w.ingestReady(part{"file", "pump.md", []byte(manual)})
	do(t, ctx, "login", loginAs(w, "acme", "worker"), chromedp.Navigate(w.http.URL+"/?lang=zh"))
	done, _ := ask(t, ctx, "What does alarm E42 mean on pump P-101?")
	chips := run(t, ctx, "chips", chromedp.Evaluate[string](`Array.from(document.querySelectorAll('.chip')).map(c => c.textContent).join('|')`))
	overflow := run(t, ctx, "overflow", chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
	shot(t, ctx, dir, "phone-chat-zh")
	if done != "1" || !strings.Contains(chips, "Pump") {
		t.Fatalf("done %q chips %q", done, chips)
	}
	if overflow > 0 {
		t.Fatalf("page is %d px wider than the phone", overflow)
	}
	if h := run(t, ctx, "send", chromedp.Evaluate[float64](`document.getElementById('send').getBoundingClientRect().height`)); h < 48 {
		t.Fatalf("send button is %.0f px tall; touch targets need 48", h)
	}

	// A new conversation empties the page; the history panel (from the
	// server) reopens the old one with its chips, and a follow-up continues it.
	do(t, ctx, "reopen",
		chromedp.Click(css(`#new-chat`)),
		chromedp.Click(css(`#history summary`)),
		chromedp.WaitVisible(css(`#history-list button[data-id]`)),
	)
	listed := run(t, ctx, "history", chromedp.Text(css(`#history-list button .title`)))
	shot(t, ctx, dir, "phone-history-zh")
	do(t, ctx, "open", chromedp.Click(css(`#history-list button[data-id]`)), chromedp.WaitVisible(css(`.msg.assistant[data-done] .chip`)))
	reopened := run(t, ctx, "reopened", chromedp.Evaluate[string](`document.querySelector('.msg.user').textContent + '|' + document.querySelectorAll('.chip').length`))
	if listed != "What does alarm E42 mean on pump P-101?" || reopened != listed+"|1" {
		t.Fatalf("history lists %q; reopened %q", listed, reopened)
	}
	do(t, ctx, "follow-up",
		chromedp.SendKeys(css(`#question`), "How long should it cool?"),
		chromedp.Click(css(`#send`)),
	)
	run(t, ctx, "answered", chromedp.Poll[bool](`document.querySelectorAll('.msg.assistant[data-done="1"]').length === 2`, chromedp.WithPollingTimeout(30*time.Second)))
	shot(t, ctx, dir, "phone-follow-up-zh")
	cs, err := w.db.Conversations(context.Background(), w.acme.ID, w.users["worker"].ID, 0)
	if err != nil || len(cs) != 1 || cs[0].Messages != 4 {
		t.Fatalf("after the follow-up the worker has conversations %+v, %v; want one with 4 messages", cs, err)
	}
}

// sshManual is a manual page whose text Markdown would change: "~" pairs
// strike through, "*" makes emphasis.
const sshManual = `# Remote access

## Logging in without a password

Generate a key pair on your own workstation first. Copy the public key
"~/.ssh/id_rsa.pub" into "~/.ssh/authorized_keys" on the remote host to log in
without a password. Files matching *.pub are public keys; keep the *private* one
to yourself. The remote host must run an SSH server, and the home directory must
not be writable by others, or the server ignores the key. Restart nothing: the
next login uses the key. The server logs each refused key in /var/log/auth.log,
which helps when the key is ignored. For a key with a passphrase, ssh-agent keeps
it unlocked for the session, so you type the passphrase once.
`

// TestBrowserPhoneExtractiveAnswer: with no model, on a 390×844 phone, the
// first quote of the answer is fully on screen when the answer arrives
// (between the header and the question box, without scrolling), and manual
// text is shown exactly as printed, not as Markdown.
func TestBrowserPhoneExtractiveAnswer(t *testing.T) {
	ctx, dir := browser(t, 390, 844)
	w := newWorld(t, worldOpts{noModel: true})
	w.ingestReady(part{"file", "ssh.txt", []byte(sshManual)})
	do(t, ctx, "login", loginAs(w, "acme", "worker"), chromedp.Navigate(w.http.URL+"/?lang=en"))
	// Earlier questions fill the screen, as in a real conversation.
	for range 2 {
		if done, _ := ask(t, ctx, "Where does the public key go on the remote host?"); done != "1" {
			t.Fatalf("answer ended %q", done)
		}
		// ask waits for the answer marked done: unmark the earlier ones.
		run(t, ctx, "unmark", chromedp.Evaluate[bool](`document.querySelectorAll('.msg.assistant').forEach(m => m.removeAttribute('data-done')); true`))
	}
	done, _ := ask(t, ctx, "Where does the public key go on the remote host?")
	shot(t, ctx, dir, "phone-extractive")
	if done != "1" {
		t.Fatalf("answer ended %q", done)
	}
	type box struct {
		Top, Bottom, Header, Input float64
		Text, HTML                 string
	}
	b := run(t, ctx, "layout", chromedp.Evaluate[box](`(() => {
		const msg = document.querySelector('.msg.assistant[data-done]');
		const q = msg.querySelector('blockquote.quoted').getBoundingClientRect();
		return { Top: q.top, Bottom: q.bottom,
			Header: document.querySelector('header.top').getBoundingClientRect().bottom,
			Input: document.getElementById('ask').getBoundingClientRect().top,
			Text: msg.querySelector('.body').textContent, HTML: msg.querySelector('.body').innerHTML };
	})()`))
	if b.Top < b.Header || b.Bottom > b.Input {
		t.Errorf("first quote spans %.0f-%.0f px; the screen shows %.0f-%.0f px between header and question box", b.Top, b.Bottom, b.Header, b.Input)
	}
	for _, want := range []string{`"~/.ssh/id_rsa.pub" into "~/.ssh/authorized_keys"`, "Files matching *.pub are public keys; keep the *private* one"} {
		if !strings.Contains(strings.Join(strings.Fields(b.Text), " "), want) {
			t.Errorf("answer text lacks %q as printed:\n%s", want, b.Text)
		}
	}
	if strings.Contains(b.HTML, "<del>") || strings.Contains(b.HTML, "<em>") || strings.Contains(b.HTML, "<s>") {
		t.Errorf("manual text rendered as Markdown: %s", b.HTML)
	}
	if n := run(t, ctx, "banners", chromedp.Evaluate[int](`document.querySelectorAll('.msg.assistant[data-done] .banner').length`)); n != 0 {
		t.Errorf("%d banners repeat the notice", n)
	}
}

// TestBrowserStopAndRefusedQuestion: Stop ends an answer while it streams;
// a question the server refuses stays in the box to be fixed, with the
// server's reason shown and no "Looking in the manuals…" left behind.
func TestBrowserStopAndRefusedQuestion(t *testing.T) {
	ctx, _ := browser(t, 390, 844)
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: strings.Repeat("Let the motor cool for 30 minutes [1]. ", 40), Chunk: 2, ChunkDelay: 40 * time.Millisecond}})
	w.ingestReady(part{"file", "pump.md", []byte(manual)})
	do(t, ctx, "login", loginAs(w, "acme", "worker"), chromedp.Navigate(w.http.URL+"/?lang=en"))
	do(t, ctx, "ask and stop",
		chromedp.WaitVisible(css(`#question`)),
		chromedp.SendKeys(css(`#question`), "What does alarm E42 mean on pump P-101?"),
		chromedp.Click(css(`#send`)),
		chromedp.WaitVisible(css(`#stop`)),
	)
	run(t, ctx, "streaming", chromedp.Poll[bool](`document.querySelector('.msg.assistant .body').textContent.includes('motor')`))
	do(t, ctx, "stop", chromedp.Click(css(`#stop`)), chromedp.WaitVisible(css(`.msg.assistant[data-done]`)))
	state := run(t, ctx, "stopped", chromedp.Evaluate[string](`document.querySelector('.msg.assistant').dataset.done + '|' + document.getElementById('send').hidden + '|' + document.getElementById('stop').hidden`))
	if state != "stopped|false|true" {
		t.Fatalf("after Stop: done|send hidden|stop hidden = %q", state)
	}

	// maxlength stops typing past the limit; a script can still set more,
	// and the server's refusal must not lose it (kept trimmed: 2,004).
	long := strings.Repeat("pump ", 401)
	run(t, ctx, "set", chromedp.Evaluate[bool](`document.getElementById('question').value = '`+long+`'; true`))
	do(t, ctx, "refused",
		chromedp.Click(css(`#send`)),
		chromedp.WaitVisible(css(`.msg.assistant[data-done="error"]`)),
	)
	kept := run(t, ctx, "kept", chromedp.Evaluate[string](`document.getElementById('question').value.length + '|' + document.querySelector('.msg.assistant[data-done="error"]').textContent`))
	if !strings.HasPrefix(kept, "2004|") || !strings.Contains(kept, "at most 2000") || strings.Contains(kept, "Looking in the manuals") {
		t.Fatalf("refused question: %q", kept)
	}
}

// TestBrowserDeskGlossary: on the desk a supervisor adds the plant's word
// for something with the form, sees it listed with their name, is told why
// an incomplete entry is refused, and removes it.
func TestBrowserDeskGlossary(t *testing.T) {
	ctx, dir := browser(t, 390, 844)
	w := newWorld(t, worldOpts{noModel: true})
	do(t, ctx, "add",
		loginAs(w, "acme", "supervisor"),
		chromedp.WaitVisible(css(`#glossary-add`)),
		chromedp.SendKeys(css(`#glossary-add input[name=term]`), "对刀"),
		chromedp.SendKeys(css(`#glossary-add input[name=means]`), "tool touch-off"),
		chromedp.Click(css(`#glossary-add button`)),
		chromedp.WaitVisible(css(`#glossary li[data-id]`)),
	)
	item := run(t, ctx, "item", chromedp.Text(css(`#glossary li[data-id]`)))
	shot(t, ctx, dir, "desk-glossary")
	if !strings.Contains(item, "对刀 = tool touch-off") || !strings.Contains(item, "Acme supervisor") {
		t.Fatalf("listed %q", item)
	}
	var gs []shifu.GlossaryEntry
	if gs, _ = w.db.Glossary(context.Background(), w.acme.ID); len(gs) != 1 || gs[0].Term != "对刀" {
		t.Fatalf("stored %+v", gs)
	}
	// The same entry again: the server's refusal is shown.
	do(t, ctx, "again",
		chromedp.SendKeys(css(`#glossary-add input[name=term]`), "对刀"),
		chromedp.SendKeys(css(`#glossary-add input[name=means]`), "tool touch-off"),
		chromedp.Click(css(`#glossary-add button`)),
	)
	run(t, ctx, "refused", chromedp.Poll[bool](`document.getElementById('glossary-msg').textContent !== ''`, chromedp.WithPollingTimeout(10*time.Second)))
	if msg := run(t, ctx, "msg", chromedp.Text(css(`#glossary-msg`))); !strings.Contains(msg, "对刀") {
		t.Errorf("refusal shown as %q", msg)
	}
	do(t, ctx, "remove",
		chromedp.Click(css(`#glossary li[data-id] button.remove`)),
		chromedp.WaitNotPresent(css(`#glossary li[data-id]`)),
	)
	if gs, _ = w.db.Glossary(context.Background(), w.acme.ID); len(gs) != 0 {
		t.Fatalf("after remove: %+v", gs)
	}
}
