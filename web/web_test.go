package web_test

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/shifu-factory/shifu"
)

var roles = []string{"anonymous", "worker", "supervisor", "admin"}

// callEvery calls every route of the table as c and reports each status.
// Ids are of nothing that exists, so allowed calls cannot change anything.
func callEvery(t *testing.T, w *world, c *client, fn func(r routeCall, code int)) {
	t.Helper()
	var last []routeCall
	for _, r := range w.srv.Routes() {
		rc := routeCall{r.Method, r.Path, r.Role, r.Page}
		if r.Path == "/logout" {
			last = append(last, rc) // would end the session the other calls use
			continue
		}
		fn(rc, call(c, rc))
	}
	for _, rc := range last {
		fn(rc, call(c, rc))
	}
}

type routeCall struct {
	method, path string
	role         shifu.Role
	page         bool
}

func call(c *client, r routeCall) int {
	p := strings.NewReplacer(":id", "987654", ":page", "1.png").Replace(r.path)
	var body *bytes.Reader
	ct := "application/json"
	if r.method == "POST" || r.method == "DELETE" {
		body = bytes.NewReader([]byte(`{}`))
	} else {
		body = bytes.NewReader(nil)
		ct = ""
	}
	resp := c.do(r.method, p, body, ct)
	resp.Body.Close()
	return resp.StatusCode
}

func rank(r string) int {
	for i, x := range roles {
		if x == r {
			return i
		}
	}
	return -1
}

func TestRoleMatrix(t *testing.T) {
	w := newWorld(t, worldOpts{})
	for _, who := range roles {
		for _, mode := range []string{"bearer", "session"} {
			if who == "anonymous" && mode == "session" {
				continue
			}
			var c *client
			switch {
			case who == "anonymous":
				c = w.anon()
			case mode == "bearer":
				c = w.token(who)
			default:
				c = w.session(who)
			}
			t.Run(who+"/"+mode, func(t *testing.T) {
				callEvery(t, w, c, func(r routeCall, code int) {
					name := r.method + " " + r.path
					if r.path == "/login" && r.method == "POST" {
						return // no form token here: tested in TestLogin
					}
					switch {
					case r.role == "":
						if code == 401 || code == 403 || code >= 500 {
							t.Errorf("%s public route: %d", name, code)
						}
					case who == "anonymous":
						want := 401
						if r.page && r.method == "GET" {
							want = 303
						}
						if code != want {
							t.Errorf("%s anonymous: %d, want %d", name, code, want)
						}
					case rank(who) < rank(string(r.role)):
						if code != 403 {
							t.Errorf("%s as %s: %d, want 403", name, who, code)
						}
					default:
						if code == 401 || code == 403 || code >= 500 && code != 503 {
							t.Errorf("%s as %s: %d, want it allowed", name, who, code)
						}
					}
				})
			})
		}
	}
}

// Every state-changing route refuses a session call without the CSRF token.
func TestCSRF(t *testing.T) {
	w := newWorld(t, worldOpts{})
	c := w.session("admin")
	good := c.csrf
	for _, bad := range []string{"", "x" + good[1:]} {
		c.csrf = bad
		n := 0
		for _, r := range w.srv.Routes() {
			if r.Method == "GET" || r.Role == "" {
				continue
			}
			n++
			if code := call(c, routeCall{r.Method, r.Path, r.Role, r.Page}); code != http.StatusForbidden {
				t.Errorf("%s %s with csrf %q: %d, want 403", r.Method, r.Path, bad, code)
			}
		}
		if n < 15 {
			t.Fatalf("only %d state-changing routes checked", n)
		}
	}
	// With the token a call goes through; a bearer token needs none.
	c.csrf = good
	var u map[string]any
	if code := c.json("POST", "/api/users", map[string]any{"login": "new1", "role": "worker"}, &u); code != http.StatusCreated {
		t.Fatalf("create user with csrf: %d %v", code, u)
	}
	if code := w.token("admin").json("POST", "/api/users", map[string]any{"login": "new2", "role": "worker"}, nil); code != http.StatusCreated {
		t.Fatalf("create user with bearer: %d", code)
	}
	// The session's CSRF token is not valid in another session.
	other := w.session("admin")
	other.csrf = good
	if code := other.json("POST", "/api/users", map[string]any{"login": "new3", "role": "worker"}, nil); code != http.StatusForbidden {
		t.Fatalf("csrf of another session: %d", code)
	}
}

func TestLogin(t *testing.T) {
	w := newWorld(t, worldOpts{})
	// Wrong password, unknown login, unknown tenant: the same answer.
	var bodies []string
	for _, tc := range [][3]string{{"acme", "worker", "wrong password!"}, {"acme", "nobody", password}, {"nope", "worker", password}} {
		c, resp := w.login(tc[0], tc[1], tc[2])
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%v: %d", tc, resp.StatusCode)
		}
		b := readBody(t, resp)
		bodies = append(bodies, regexp.MustCompile(`value="[^"]*"`).ReplaceAllString(b, ""))
		if n := len(c.hc.Jar.Cookies(mustURL(w.http.URL))); n != 1 {
			t.Fatalf("%v: %d cookies after a failed login, want only the form's", tc, n)
		}
	}
	if !strings.Contains(bodies[0], "Wrong factory, user name or password") {
		t.Fatalf("no message: %s", bodies[0])
	}

	// The session cookie is HttpOnly and SameSite=Lax.
	c, resp := w.login("acme", "worker", password)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var set string
	for _, h := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "shifu_session=") && !strings.HasPrefix(h, "shifu_session=;") {
			set = h
		}
	}
	if !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Lax") || strings.Contains(set, "Secure") {
		t.Fatalf("session cookie %q", set)
	}
	var me map[string]any
	if code := c.json("GET", "/api/me", nil, &me); code != 200 || me["login"] != "worker" || me["role"] != "worker" {
		t.Fatalf("me: %d %v", code, me)
	}
	// A supervisor lands on the desk; next= only goes to our own paths.
	if _, resp := w.login("acme", "supervisor", password); resp.Header.Get("Location") != "/desk" {
		t.Fatalf("supervisor lands on %q", resp.Header.Get("Location"))
	}
	// Login without the form's CSRF token is refused.
	anon := w.anon()
	resp = anon.do("POST", "/login", strings.NewReader(url.Values{"tenant": {"acme"}, "login": {"worker"}, "password": {password}}.Encode()),
		"application/x-www-form-urlencoded")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without csrf: %d", resp.StatusCode)
	}
	// Logout ends the session on the server.
	if r := c.do("POST", "/logout", nil, ""); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if code := c.json("GET", "/api/me", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", code)
	}

	// Five failures block the login for this address, even with the right password.
	for i := 0; i < 5; i++ {
		w.login("acme", "admin", "wrong password!")
	}
	if _, resp := w.login("acme", "admin", password); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %d", resp.StatusCode)
	}
	// Another login from the same address is not blocked.
	if _, resp := w.login("acme", "supervisor", password); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("other login blocked: %d", resp.StatusCode)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestPagesHeadersAndLanguage(t *testing.T) {
	w := newWorld(t, worldOpts{})
	c := w.session("admin")
	for _, p := range []string{"/", "/desk", "/admin", "/login"} {
		cl := c
		if p == "/login" {
			cl = w.anon()
		}
		resp := cl.do("GET", p, nil, "")
		body := readBody(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Fatalf("%s CSP %q", p, csp)
		}
		// No inline script: every <script> has a src, except the JSON data block.
		for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
			if !strings.Contains(m, "src=") && !strings.Contains(m, "application/json") {
				t.Fatalf("%s has inline script %s", p, m)
			}
		}
	}
	req, _ := http.NewRequest("GET", w.http.URL+"/login", nil)
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, resp); !strings.Contains(b, `lang="zh"`) || !strings.Contains(b, "登录") {
		t.Fatal("Chinese browser did not get the Chinese UI")
	}
	resp = w.anon().do("GET", "/login?lang=en", nil, "")
	if b := readBody(t, resp); !strings.Contains(b, "Log in") {
		t.Fatal("?lang=en did not switch")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	w := newWorld(t, worldOpts{})
	a := w.anon()
	var h map[string]string
	if code := a.json("GET", "/healthz", nil, &h); code != 200 || h["status"] != "ok" {
		t.Fatalf("healthz %d %v", code, h)
	}
	if code := a.json("GET", "/readyz", nil, &h); code != 200 || h["status"] != "ready" {
		t.Fatalf("readyz %d %v", code, h)
	}
	w.token("worker").json("GET", "/api/me", nil, nil)
	resp := a.do("GET", "/metrics", nil, "")
	m := readBody(t, resp)
	for _, want := range []string{`shifu_http_request_seconds_count{code="200",method="GET",route="/api/me"} 1`, "go_goroutines", "shifu_ingest_jobs"} {
		if !strings.Contains(m, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
	// Errors are JSON with a safe message.
	var e map[string]string
	if code := a.json("GET", "/api/nothing", nil, &e); code != 404 || e["error"] == "" {
		t.Fatalf("404: %d %v", code, e)
	}
	if code := w.token("worker").json("POST", "/api/chat", nil, &e); code != 400 || !strings.Contains(e["error"], "application/json") {
		t.Fatalf("chat without body: %d %v", code, e)
	}
	bad := w.token("worker")
	resp = bad.do("POST", "/api/chat", strings.NewReader(`{"question": 5}`), "application/json")
	if b := readBody(t, resp); resp.StatusCode != 400 || !strings.Contains(b, `question`) || strings.Contains(b, "json:") {
		t.Fatalf("bad JSON: %d %s", resp.StatusCode, b)
	}
}

// An admin manages users and tokens of their own tenant only.
func TestAdminUsersAndTokens(t *testing.T) {
	w := newWorld(t, worldOpts{})
	adm := w.session("admin")
	var created struct {
		User     struct{ ID int64 }
		Password string
	}
	if code := adm.json("POST", "/api/users", map[string]any{"login": "zhao", "name": "Zhao", "role": "worker"}, &created); code != 201 || len(created.Password) < 10 {
		t.Fatalf("create: %d %+v", code, created)
	}
	zhao, resp := w.login("acme", "zhao", created.Password)
	if resp.StatusCode != 303 {
		t.Fatalf("new user cannot log in: %d", resp.StatusCode)
	}
	var tok struct {
		Token string
		Info  struct{ ID int64 }
	}
	if code := adm.json("POST", "/api/tokens", map[string]any{"user_id": created.User.ID, "name": "script"}, &tok); code != 201 {
		t.Fatalf("token: %d", code)
	}
	api := w.anon()
	api.bearer = tok.Token
	var me map[string]any
	if code := api.json("GET", "/api/me", nil, &me); code != 200 || me["login"] != "zhao" {
		t.Fatalf("token works as %v (%d)", me, code)
	}
	// Another tenant's admin can neither see nor touch them.
	bolt := w.token("bolt")
	var users struct{ Users []map[string]any }
	bolt.json("GET", "/api/users", nil, &users)
	if len(users.Users) != 1 {
		t.Fatalf("bolt sees %d users", len(users.Users))
	}
	if code := bolt.json("POST", "/api/users/"+jsonNum(created.User.ID)+"/disable", nil, nil); code != 404 {
		t.Fatalf("bolt disabled acme's user: %d", code)
	}
	if code := bolt.json("DELETE", "/api/tokens/"+jsonNum(tok.Info.ID), nil, nil); code != 404 {
		t.Fatalf("bolt revoked acme's token: %d", code)
	}
	if code := bolt.json("POST", "/api/tokens", map[string]any{"user_id": created.User.ID}, nil); code != 404 {
		t.Fatalf("bolt made a token for acme's user: %d", code)
	}
	// Revoking the token and disabling the user take effect at once.
	if code := adm.json("DELETE", "/api/tokens/"+jsonNum(tok.Info.ID), nil, nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if code := api.json("GET", "/api/me", nil, nil); code != 401 {
		t.Fatalf("revoked token: %d", code)
	}
	if code := adm.json("POST", "/api/users/"+jsonNum(created.User.ID)+"/disable", nil, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	if code := zhao.json("GET", "/api/me", nil, nil); code != 401 {
		t.Fatalf("disabled user's session: %d", code)
	}
	if code := adm.json("POST", "/api/users/"+jsonNum(w.users["admin"].ID)+"/disable", nil, nil); code != 400 {
		t.Fatalf("admin disabled themself: %d", code)
	}
	var audit struct{ Audit []struct{ Action string } }
	adm.json("GET", "/api/audit", nil, &audit)
	var actions []string
	for _, a := range audit.Audit {
		actions = append(actions, a.Action)
	}
	for _, want := range []string{"user.create", "token.create", "token.revoke", "user.disable", "login"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Fatalf("audit lacks %s: %v", want, actions)
		}
	}
}

// Over TLS the session cookie is Secure.
func TestSecureCookieOverTLS(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ts := httptest.NewTLSServer(w.srv)
	defer ts.Close()
	hc := ts.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	jar, _ := cookiejar.New(nil)
	hc.Jar = jar
	resp, err := hc.Get(ts.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	m := csrfInput.FindStringSubmatch(readBody(t, resp))
	resp, err = hc.PostForm(ts.URL+"/login", url.Values{"tenant": {"acme"}, "login": {"worker"}, "password": {password}, "csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var set string
	for _, h := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "shifu_session=") && !strings.HasPrefix(h, "shifu_session=;") {
			set = h
		}
	}
	if resp.StatusCode != 303 || !strings.Contains(set, "Secure") || !strings.Contains(set, "HttpOnly") {
		t.Fatalf("login over TLS: %d, cookie %q", resp.StatusCode, set)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS over TLS")
	}
}
