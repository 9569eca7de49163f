package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/answer"
	"github.com/shifu-factory/shifu/bot"
	"github.com/shifu-factory/shifu/bot/gateway"
	"github.com/shifu-factory/shifu/ingest"
	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/admit"
	"github.com/shifu-factory/shifu/internal/auth"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/limit"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
	"github.com/shifu-factory/shifu/internal/terms"
	"github.com/shifu-factory/shifu/internal/testenv"
	"github.com/shifu-factory/shifu/retrieval"
	"github.com/shifu-factory/shifu/web"
)

// The PDF engine and the Chinese dictionary take seconds to load, so every
// test in this package shares one of each.
var (
	sharedParser = sync.OnceValues(func() (*parse.Parser, error) {
		// With Tesseract installed, scans and photos are read by OCR (at the
		// resolution of the test scans, one page per core).
		tess, _ := exec.LookPath("tesseract")
		return parse.New(context.Background(), parse.Options{Timeout: time.Minute,
			Tesseract: tess, OCRDPI: 150, OCRWorkers: runtime.NumCPU()})
	})
	sharedTerms = sync.OnceValues(terms.New)
)

const password = "correct horse battery"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// world is a running Shifu web server over a real database, the real ingest
// pipeline, retrieval and answer service, and a fake model server.
type world struct {
	t       *testing.T
	db      *postgres.DB
	srv     *web.Server
	http    *httptest.Server
	model   *llmtest.Server
	ingest  *ingest.Service
	bots    *bot.Service
	acme    shifu.Tenant
	bolt    shifu.Tenant
	users   map[string]shifu.User // "worker", "supervisor", "admin" in acme; "bolt" is bolt's admin
	tokens  map[string]string
	renders atomic.Int64
	ring    *keyring.Ring
	gw      *gateway.Gateway // with worldOpts.slack
	notices *gateway.Notices
	log     testenv.Log // what the gateway and notices logged
}

type worldOpts struct {
	model     llmtest.Options
	noModel   bool // answer without a chat model (degraded)
	maxUpload int64
	maxBatch  int64
	limits    *limit.Answers
	login     [2]int // password checks at once, logins per address a minute (0: defaults)
	admission *admit.Limiter
	answerDB  *postgres.DB // the database answers are read from and stored in; default the world's
	slack     string       // a fake Slack's Web API base URL: the bots' gateway is mounted and notices run
}

func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	ctx := context.Background()
	db, dbURL := pgtest.DB(t)
	master, err := keyring.ParseMaster(keyring.Generate())
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string) shifu.Tenant {
		w, err := master.NewDataKey(name)
		if err != nil {
			t.Fatal(err)
		}
		tn, err := postgres.CreateTenant(ctx, dbURL, name, w)
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	w := &world{t: t, db: db, acme: mk("acme"), bolt: mk("bolt"), users: map[string]shifu.User{}, tokens: map[string]string{}}
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []shifu.Role{shifu.RoleWorker, shifu.RoleSupervisor, shifu.RoleAdmin} {
		u, err := db.CreateUser(ctx, w.acme.ID, shifu.User{Login: string(r), Name: "Acme " + string(r), Role: r}, hash, shifu.Actor{})
		if err != nil {
			t.Fatal(err)
		}
		w.users[string(r)] = u
	}
	u, err := db.CreateUser(ctx, w.bolt.ID, shifu.User{Login: "admin", Name: "Bolt admin", Role: shifu.RoleAdmin}, hash, shifu.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	w.users["bolt"] = u
	for name, u := range w.users {
		tok, h := auth.NewToken()
		if _, err := db.CreateToken(ctx, u.TenantID, u.ID, name, h, shifu.Actor{}); err != nil {
			t.Fatal(err)
		}
		w.tokens[name] = tok
	}

	ring := keyring.NewRing(master, func(ctx context.Context, id int64) (string, []byte, error) {
		tn, wk, err := db.TenantByID(ctx, id)
		return tn.Name, wk, err
	})
	w.ring = ring
	p, an, emb := parts(t)
	var chat llm.Chat
	if !o.noModel {
		w.model = llmtest.NewServer(t, o.model)
		chat, err = llm.NewChat(llm.ChatConfig{Provider: "compatible", BaseURL: w.model.BaseURL(), Model: "fake"})
		if err != nil {
			t.Fatal(err)
		}
	}
	metrics := web.NewMetrics()
	metrics.WatchJobs(db.Pool())
	adb := db
	if o.answerDB != nil {
		adb = o.answerDB
	}
	asker := answer.New(adb, retrieval.New(adb, an, emb, retrieval.Options{}), chat, answer.Options{Timeout: 30 * time.Second})
	// With a fake Slack, the bots' gateway is mounted and a note answering
	// a gap asked in a Slack thread is announced there (the notice job run
	// by the pipeline's queue client, as in shifu serve).
	var jobs []ingest.Jobs
	if o.slack != "" {
		w.gw = gateway.New(db, ring, asker, gateway.Config{PublicURL: slackPublic, SlackAPIURL: o.slack, Logger: w.logs()})
		t.Cleanup(func() { _ = w.gw.Close(context.Background()) })
		if w.notices, err = w.gw.Notices(db); err != nil {
			t.Fatal(err)
		}
		jobs = []ingest.Jobs{{Queue: postgres.NoticeQueue, Workers: 1, Register: w.notices.Register}}
	}
	svc := startIngest(t, db, ring, ingest.Options{Workers: 2, MaxBytes: 50 << 20, Logger: quiet, Jobs: jobs})
	w.ingest = svc

	w.bots = bot.New(db, ring, asker, bot.Options{Logger: quiet})
	t.Cleanup(func() { _ = w.bots.Close(context.Background()) })
	wo := web.Options{DB: db, Asker: asker, Ingester: svc, Renderer: pageAdapter{p, &w.renders},
		BotAdmin: web.BotService(w.bots), MaxUploadBytes: o.maxUpload, MaxBatchBytes: o.maxBatch, Logger: quiet, Metrics: metrics,
		Limits: o.limits, LoginChecks: o.login[0], LoginsPerMinute: o.login[1], Admission: o.admission}
	if w.gw != nil {
		wo.Bots, wo.Notices = w.gw, w.notices.Queue()
		w.notices.Start(ctx)
		t.Cleanup(w.notices.Stop)
	}
	w.srv, err = web.New(wo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.srv.Close)
	w.http = httptest.NewServer(w.srv)
	t.Cleanup(w.http.Close)
	return w
}

type pageAdapter struct {
	p       *parse.Parser
	renders *atomic.Int64 // pages rendered, to see the cache work
}

func (g pageAdapter) RenderPage(ctx context.Context, pdf []byte, page, width int) ([]byte, error) {
	g.renders.Add(1)
	return g.p.RenderPage(ctx, pdf, page, width)
}
func (g pageAdapter) FindRects(ctx context.Context, pdf []byte, page int, quote string) ([]web.Rect, error) {
	rs, err := g.p.FindText(ctx, pdf, page, quote)
	out := make([]web.Rect, len(rs))
	for i, r := range rs {
		out[i] = web.Rect{X: r.X, Y: r.Y, W: r.W, H: r.H}
	}
	return out, err
}

// client is one caller: anonymous, a bearer token, or a logged-in browser.
type client struct {
	w      *world
	hc     *http.Client
	bearer string
	csrf   string
}

func (w *world) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{w: w, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *world) token(name string) *client {
	c := w.anon()
	c.bearer = w.tokens[name]
	return c
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
var csrfMeta = regexp.MustCompile(`<meta name="csrf" content="([^"]*)">`)

// login logs in through the form, as a browser does.
func (w *world) login(tenant, login, pw string) (*client, *http.Response) {
	w.t.Helper()
	c := w.anon()
	resp := c.do("GET", "/login", nil, "")
	m := csrfInput.FindStringSubmatch(readBody(w.t, resp))
	if m == nil {
		w.t.Fatal("login page has no csrf field")
	}
	form := url.Values{"tenant": {tenant}, "login": {login}, "password": {pw}, "csrf": {m[1]}}
	resp = c.do("POST", "/login", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	if resp.StatusCode == http.StatusSeeOther {
		page := c.do("GET", "/", nil, "")
		if mm := csrfMeta.FindStringSubmatch(readBody(w.t, page)); mm != nil {
			c.csrf = mm[1]
		}
	}
	return c, resp
}

func (w *world) session(role string) *client {
	w.t.Helper()
	tenant := "acme"
	login := role
	if role == "bolt" {
		tenant, login = "bolt", "admin"
	}
	c, resp := w.login(tenant, login, password)
	if resp.StatusCode != http.StatusSeeOther || c.csrf == "" {
		w.t.Fatalf("login %s: status %d, csrf %q", role, resp.StatusCode, c.csrf)
	}
	return c
}

func (c *client) do(method, path string, body io.Reader, ctype string) *http.Response {
	c.w.t.Helper()
	req, err := http.NewRequest(method, c.w.http.URL+path, body)
	if err != nil {
		c.w.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.w.t.Fatal(err)
	}
	return resp
}

// json sends v as JSON (nil: no body) and decodes the answer into out.
func (c *client) json(method, path string, v, out any) int {
	c.w.t.Helper()
	var body io.Reader
	ct := ""
	if v != nil {
		b, _ := json.Marshal(v)
		body, ct = bytes.NewReader(b), "application/json"
	}
	resp := c.do(method, path, body, ct)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.w.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

type part struct {
	field, name string
	data        []byte
}

func (c *client) upload(path string, parts ...part) (int, map[string]any) {
	c.w.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		if p.name == "" {
			_ = mw.WriteField(p.field, string(p.data))
			continue
		}
		fw, _ := mw.CreateFormFile(p.field, p.name)
		fw.Write(p.data)
	}
	mw.Close()
	resp := c.do("POST", path, &b, mw.FormDataContentType())
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		c.w.t.Fatalf("upload answer %d is not JSON: %q", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// ingestReady uploads files as the supervisor and waits until all are ready.
func (w *world) ingestReady(files ...part) []int64 {
	w.t.Helper()
	code, out := w.token("supervisor").upload("/api/documents", files...)
	if code != http.StatusOK {
		w.t.Fatalf("upload: %d %v", code, out)
	}
	var ids []int64
	for _, f := range out["files"].([]any) {
		fm := f.(map[string]any)
		if fm["ok"] != true {
			w.t.Fatalf("upload %v", fm)
		}
		ids = append(ids, int64(fm["document"].(map[string]any)["id"].(float64)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	docs, err := w.ingest.Wait(ctx, w.acme.ID, w.newest(ids), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, d := range docs {
		if d.Status != shifu.StatusReady {
			w.t.Fatalf("%s: %s %s", d.Name, d.Status, d.Error)
		}
	}
	return ids
}

// newest returns the stored version ids (what ingest.Wait polls) of the
// newest version of each of acme's documents ids.
func (w *world) newest(ids []int64) []int64 {
	w.t.Helper()
	out := make([]int64, len(ids))
	for i, id := range ids {
		d, err := w.db.Document(context.Background(), w.acme.ID, id)
		if err != nil {
			w.t.Fatal(err)
		}
		out[i] = d.Versions[len(d.Versions)-1].ID
	}
	return out
}

// event is one SSE event of /api/chat.
type event struct {
	name string
	data json.RawMessage
}

func (c *client) chat(question string) (int, []event) {
	c.w.t.Helper()
	b, _ := json.Marshal(map[string]any{"question": question})
	resp := c.do("POST", "/api/chat", bytes.NewReader(b), "application/json")
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, []event{{name: "http", data: raw}}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		c.w.t.Fatalf("chat content type %q", ct)
	}
	var evs []event
	for _, block := range strings.Split(string(raw), "\n\n") {
		var ev event
		for _, line := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				ev.name = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				ev.data = json.RawMessage(v)
			}
		}
		if ev.name != "" {
			evs = append(evs, ev)
		}
	}
	return resp.StatusCode, evs
}

type finalAnswer struct {
	Answer         string           `json:"answer"`
	HTML           string           `json:"html"`
	Citations      []shifu.Citation `json:"citations"`
	Abstained      bool             `json:"abstained"`
	Degraded       bool             `json:"degraded"`
	MessageID      int64            `json:"message_id"`
	ConversationID int64            `json:"conversation_id"`
}

func final(t *testing.T, evs []event) finalAnswer {
	t.Helper()
	for _, e := range evs {
		if e.name == "final" {
			var f finalAnswer
			if err := json.Unmarshal(e.data, &f); err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no final event in %v", names(evs))
	return finalAnswer{}
}

func names(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%s:%s ", e.name, e.data)
	}
	return b.String()
}

func readBody(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// manual is a small Markdown manual retrieval can find.
const manual = `# Pump P-101 maintenance

## Seal leak

If pump P-101 leaks at the shaft, replace the mechanical seal (part MS-220).
Torque the gland bolts to 25 Nm in a cross pattern.

## Alarm E42

Alarm E42 means the motor overheated. Let it cool for 30 minutes and clean the fan cover.
`

// gap stores an abstained question of user's, as the answer service does
// (Exchange with the gap reason), so a test can open a gap without asking.
func (w *world) gap(q string, user shifu.User) {
	w.t.Helper()
	ctx := context.Background()
	conv, err := w.db.CreateConversation(ctx, w.acme.ID, shifu.Conversation{UserID: user.ID, Title: q})
	if err == nil {
		_, err = w.db.Exchange(ctx, w.acme.ID, conv, user.ID, q, shifu.Answer{Text: "not covered", Abstained: true}, "abstained")
	}
	if err != nil {
		w.t.Fatal(err)
	}
}

// parts are what ingest and search are made of in the tests: the shared
// parser and analyzer, and the offline embedder.
func parts(t *testing.T) (*parse.Parser, *terms.Analyzer, llm.Embedder) {
	t.Helper()
	p, err := sharedParser()
	if err != nil {
		t.Fatal(err)
	}
	an, err := sharedTerms()
	if err != nil {
		t.Fatal(err)
	}
	emb, err := llm.NewEmbedder(llm.EmbedConfig{Provider: "offline"})
	if err != nil {
		t.Fatal(err)
	}
	return p, an, emb
}

// startIngest starts an ingest pipeline over db with the shared parser,
// analyzer and the offline embedder, stopped when the test ends.
func startIngest(t *testing.T, db *postgres.DB, ring *keyring.Ring, o ingest.Options) *ingest.Service {
	t.Helper()
	p, an, emb := parts(t)
	svc, err := ingest.New(db, ring, p, an, emb, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, c := context.WithTimeout(context.Background(), 20*time.Second)
		defer c()
		_ = svc.Stop(stopCtx)
		cancel()
	})
	return svc
}
