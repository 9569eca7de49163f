package slack

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/shifu-factory/shifu"
)

// Slack's published signing example.
const (
	vecSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	vecTS     = "1531420618"
	vecBody   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	vecSig    = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

func vecHeader(sig, ts string) http.Header {
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", sig)
	return h
}

func TestSignatureVector(t *testing.T) {
	if got := Sign(vecSecret, vecTS, []byte(vecBody)); got != vecSig {
		t.Fatalf("Sign = %s, want %s", got, vecSig)
	}
	at := time.Unix(1531420618, 0)
	if err := Verify(vecHeader(vecSig, vecTS), []byte(vecBody), vecSecret, at.Add(2*time.Minute)); err != nil {
		t.Fatalf("published example refused: %v", err)
	}
	cases := map[string]struct {
		h      http.Header
		body   string
		secret string
		now    time.Time
	}{
		"body changed":         {vecHeader(vecSig, vecTS), vecBody + "&x=1", vecSecret, at},
		"wrong secret":         {vecHeader(vecSig, vecTS), vecBody, vecSecret + "x", at},
		"signature flipped":    {vecHeader(vecSig[:len(vecSig)-1]+"a", vecTS), vecBody, vecSecret, at},
		"timestamp changed":    {vecHeader(vecSig, "1531420619"), vecBody, vecSecret, at},
		"6 minutes late":       {vecHeader(vecSig, vecTS), vecBody, vecSecret, at.Add(6 * time.Minute)},
		"6 minutes early":      {vecHeader(vecSig, vecTS), vecBody, vecSecret, at.Add(-6 * time.Minute)},
		"no signature":         {vecHeader("", vecTS), vecBody, vecSecret, at},
		"v1 scheme":            {vecHeader("v1="+vecSig[3:], vecTS), vecBody, vecSecret, at},
		"timestamp not number": {vecHeader(vecSig, "soon"), vecBody, vecSecret, at},
	}
	for name, c := range cases {
		if err := Verify(c.h, []byte(c.body), c.secret, c.now); !errors.Is(err, shifu.ErrUnauthorized) {
			t.Errorf("%s: Verify = %v, want ErrUnauthorized", name, err)
		}
	}
}

const public = "https://shifu.example.cn"

// hostile is model output a poisoned manual could produce.
const hostile = "<!channel> <!here> <!subteam^S0614TZR7|@ops> <@U0LAN0Z89> @channel @here @everyone: " +
	"click [reset guide](https://evil.test/phish) or <https://evil.test/x|the manual> or https://evil.test/a, " +
	"www.evil.test, evil.com. ![t](https://evil.test/t.png) [[x](https://evil.test)](https://shifu.example.cn/d) " +
	"http:[//evil.test](https://evil.test) See [page 4](https://shifu.example.cn/documents/7#page=4) & **reset** the drive."

func TestMrkdwnHostile(t *testing.T) {
	got := Mrkdwn(hostile, public)
	for _, bad := range []string{"<!", "<@", "@channel", "@here", "@everyone", "evil.test/", "https://evil", "http://evil", "www.evil", "evil.com"} {
		if strings.Contains(got, bad) {
			t.Errorf("%q survived in %q", bad, got)
		}
	}
	// Only the web app's link is a link.
	if strings.Count(got, "<") != 1 || !strings.Contains(got, "<https://shifu.example.cn/documents/7#page=4|page 4>") {
		t.Errorf("links in %q", got)
	}
	for _, keep := range []string{"&lt;!channel&gt;", "&lt;@U0LAN0Z89&gt;", "reset guide", "the manual", "&amp; *reset* the drive"} {
		if !strings.Contains(got, keep) {
			t.Errorf("%q missing from %q", keep, got)
		}
	}
	fb := Fallback(shifu.Answer{Text: hostile})
	if strings.Contains(fb, "<") || strings.Contains(fb, "evil.test/") || strings.Contains(fb, "@channel") || strings.Contains(fb, "https://") {
		t.Errorf("fallback text not inert: %q", fb)
	}
}

func TestBlocks(t *testing.T) {
	a := shifu.Answer{Text: "Reset the drive [1].", MessageID: 42, Citations: []shifu.Citation{
		{N: 1, Document: "drive.pdf", Title: "<!channel> Drive *manual*", PageStart: 12, PageEnd: 12, DocID: 7, Verified: true},
		{N: 2, Document: "note.md", Anchor: "fix-1", DocID: 8},
	}}
	blocks := Blocks(a, public)
	if len(blocks) != 4 {
		t.Fatalf("%d blocks, want section + 2 context + actions", len(blocks))
	}
	sec := blocks[0].(*slack.SectionBlock)
	if sec.Text.Text != "Reset the drive [1]." || !sec.Text.Verbatim {
		t.Errorf("section %+v", sec.Text)
	}
	c1 := blocks[1].(*slack.ContextBlock).ContextElements.Elements[0].(*slack.TextBlockObject)
	if !strings.HasPrefix(c1.Text, "[1] *&lt;!channel&gt; Drive *manual*, p. 12* · <https://shifu.example.cn/documents/7#page=12|open>") {
		t.Errorf("citation 1: %q", c1.Text)
	}
	if strings.Contains(c1.Text, "<!") {
		t.Errorf("title mentions: %q", c1.Text)
	}
	c2 := blocks[2].(*slack.ContextBlock).ContextElements.Elements[0].(*slack.TextBlockObject)
	if !strings.Contains(c2.Text, "<https://shifu.example.cn/documents/8#fix-1|open>") || !strings.Contains(c2.Text, "not verified") {
		t.Errorf("citation 2: %q", c2.Text)
	}
	act := blocks[3].(*slack.ActionBlock)
	if len(act.Elements.ElementSet) != 2 {
		t.Fatalf("actions %+v", act.Elements)
	}
	up := act.Elements.ElementSet[0].(*slack.ButtonBlockElement)
	if up.ActionID != ActionUp || up.Value != "42" {
		t.Errorf("up button %+v", up)
	}
	// A long answer is split into sections within Slack's limit.
	long := Blocks(shifu.Answer{Text: strings.Repeat("word ", 1500)}, public)
	if len(long) < 2 {
		t.Fatalf("long answer in %d blocks", len(long))
	}
	for _, b := range long {
		if n := len(b.(*slack.SectionBlock).Text.Text); n > sectionMax {
			t.Errorf("section of %d bytes", n)
		}
	}
}

func FuzzMrkdwn(f *testing.F) {
	f.Add(hostile)
	f.Add("<https://shifu.example.cn/a|<!channel>>")
	f.Add("[a|b](https://shifu.example.cn/x)")
	f.Fuzz(func(t *testing.T, s string) {
		out := Mrkdwn(s, public)
		// Every '<' opens one of our links to the web app.
		for i := strings.Index(out, "<"); i >= 0; {
			if !strings.HasPrefix(out[i:], "<"+public+"/") && !strings.HasPrefix(out[i:], "<"+public+"|") {
				t.Fatalf("stray '<' in %q", out)
			}
			j := strings.Index(out[i+1:], "<")
			if j < 0 {
				break
			}
			i += 1 + j
		}
	})
}

// TestAnswered: the gap notice mentions only real Slack user ids, escapes
// the asker's question and the note's title (no mention, broadcast or link
// survives), speaks the question's language and links only into the app.
func TestAnswered(t *testing.T) {
	got := Answered("<!channel> how do I reset [it](https://evil.test/x) & go?", "Reset <@U0LAN0Z89>", []string{"U0ACME1", "<!here>", "x"}, public, 7)
	want := "<@U0ACME1> Your question “&lt;!channel&gt; how do I reset it &amp; go?” now has an answer: the note “Reset &lt;@U0LAN0Z89&gt;”. <https://shifu.example.cn/documents/7|Open the note>"
	if got != want {
		t.Errorf("Answered =\n%s\nwant\n%s", got, want)
	}
	if got := Answered("主轴报警怎么处理？", "主轴报警怎么处理？", nil, "", 7); got != "你的问题“主轴报警怎么处理？”现在有答案了，见技术员的笔记。" {
		t.Errorf("Chinese, untitled, no public URL: %s", got)
	}
	for ext, ok := range map[string]bool{"TACME:C0LINE:1700000000.000100": true, "TACME:C0LINE:command:123.456": false, "C0LINE:1700000000.000100": false, "": false} {
		if _, _, _, got := Thread(ext); got != ok {
			t.Errorf("Thread(%q) ok = %v, want %v", ext, got, ok)
		}
	}
	if team, ch, ts, _ := Thread(threadID("TACME", "C0LINE", "1.2")); team != "TACME" || ch != "C0LINE" || ts != "1.2" {
		t.Errorf("Thread(threadID) = %s %s %s", team, ch, ts)
	}
}

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{slack.SlackErrorResponse{Err: "channel_not_found"}, false},
		{slack.SlackErrorResponse{Err: "invalid_auth"}, false},
		{slack.SlackErrorResponse{Err: "ratelimited"}, true},
		{&slack.RateLimitedError{RetryAfter: time.Second}, true},
		{slack.StatusCodeError{Code: 503}, true},
		{slack.StatusCodeError{Code: 404}, false},
		{errors.New("dial tcp: connection refused"), true},
	} {
		if got := Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
