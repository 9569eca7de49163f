package web

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/auth"
)

const (
	sessionCookie = "shifu_session"
	preCookie     = "shifu_pre" // CSRF secret of the login form, before there is a session
	csrfHeader    = "X-CSRF-Token"
	csrfField     = "csrf"
)

// principal is who is calling: a user of one tenant, by session or token.
type principal struct {
	User      shifu.User
	SessionID int64
	CSRF      string // empty for bearer tokens
	Bearer    bool
}

func (p *principal) tenant() int64 { return p.User.TenantID }

// actor is the principal as a change's author: audited as the user, shown by
// display name.
func (p *principal) actor() shifu.Actor {
	return shifu.Actor{UserID: p.User.ID, Name: displayName(p.User)}
}

const principalKey = "shifu.principal"

func who(c *gin.Context) *principal {
	p, _ := c.Get(principalKey)
	pr, _ := p.(*principal)
	return pr
}

// authenticate finds the caller from an Authorization bearer token or the
// session cookie. No credentials is (nil, nil); bad ones are an error.
func (s *Server) authenticate(c *gin.Context) (*principal, error) {
	if h := c.GetHeader("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(tok) == "" {
			return nil, shifu.Errorf(shifu.ErrUnauthorized, "the Authorization header must be \"Bearer <token>\"")
		}
		hash := auth.Hash(strings.TrimSpace(tok))
		if p, ok := s.creds.get(tokenKey(hash)); ok {
			return p, nil
		}
		u, err := s.o.DB.UserByToken(c, hash)
		if err != nil {
			return nil, err
		}
		// The token's last use is recorded when it is looked up, so at
		// most once per credTTL (the database keeps minutes anyway).
		_ = s.o.DB.TouchToken(c, u.TenantID, hash)
		p := &principal{User: u, Bearer: true}
		s.creds.put(tokenKey(hash), p)
		return p, nil
	}
	ck, err := c.Cookie(sessionCookie)
	if err != nil || ck == "" {
		return nil, nil
	}
	hash := auth.Hash(ck)
	if p, ok := s.creds.get(sessionKey(hash)); ok {
		return p, nil
	}
	sess, err := s.o.DB.SessionByHash(c, hash)
	if err != nil {
		return nil, err
	}
	p := &principal{User: sess.User, SessionID: sess.ID, CSRF: sess.CSRF}
	s.creds.put(sessionKey(hash), p)
	return p, nil
}

// guard enforces the route's role and, for sessions, CSRF on every
// state-changing method. Bearer calls are exempt from CSRF: browsers never
// attach Authorization headers on their own.
func (s *Server) guard(r route) gin.HandlerFunc {
	return func(c *gin.Context) {
		if r.role == public && !r.page {
			// Health, readiness and metrics must not depend on credentials
			// (nor on the database, for /healthz).
			c.Next()
			return
		}
		p, err := s.authenticate(c)
		if err != nil && !errors.Is(err, shifu.ErrUnauthorized) {
			s.fail(c, err)
			return
		}
		if p != nil {
			c.Set(principalKey, p)
		}
		if r.role == public {
			c.Next() // the login page, which only looks whether someone is logged in
			return
		}
		if p == nil {
			if r.page && c.Request.Method == http.MethodGet {
				c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
				c.Abort()
				return
			}
			if err == nil {
				err = shifu.Errorf(shifu.ErrUnauthorized, "log in or send a bearer token")
			}
			c.Header("WWW-Authenticate", `Bearer realm="shifu"`)
			s.fail(c, err)
			return
		}
		if !p.User.Role.Allows(r.role) {
			s.fail(c, shifu.Errorf(shifu.ErrForbidden, "this needs the %s role; you are %s", r.role, p.User.Role))
			return
		}
		if !p.Bearer && unsafeMethod(c.Request.Method) {
			got := c.GetHeader(csrfHeader)
			// Only small urlencoded forms are parsed for the field; uploads
			// stream, so multipart calls must send the header.
			if got == "" && strings.HasPrefix(c.ContentType(), "application/x-www-form-urlencoded") {
				got = c.Request.PostFormValue(csrfField)
			}
			if !auth.Equal(got, p.CSRF) {
				s.fail(c, shifu.Errorf(shifu.ErrForbidden, "the form has expired (missing or wrong CSRF token): reload the page and try again"))
				return
			}
		}
		c.Next()
	}
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

func (s *Server) secure(c *gin.Context) bool { return s.o.SecureCookies || c.Request.TLS != nil }

func (s *Server) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(c), SameSite: http.SameSiteLaxMode})
}

// loginPage shows the login form with a fresh pre-session CSRF secret (login
// CSRF would let another site log a worker into the attacker's account).
func (s *Server) loginPage(c *gin.Context) {
	if p := who(c); p != nil {
		c.Redirect(http.StatusSeeOther, home(p.User.Role))
		return
	}
	s.showLogin(c, http.StatusOK, "", c.Query("tenant"), "")
}

func (s *Server) showLogin(c *gin.Context, code int, msg, tenant, login string) {
	// A failed login keeps the form's token: replacing it would expire the
	// other forms still open with it (parallel tabs, retries) for no gain.
	pre, _ := c.Cookie(preCookie)
	if code == http.StatusForbidden || len(pre) < 16 {
		pre = auth.Secret()
	}
	s.setCookie(c, preCookie, pre, 3600)
	c.Status(code)
	s.render(c, "login", map[string]any{"CSRF": pre, "Error": msg, "Tenant": tenant, "Login": login, "Next": safeNext(c.Query("next"))})
}

// login checks tenant, login and password. Failures are throttled per
// client address and login, and all look the same, so nobody learns which
// tenants or logins exist.
func (s *Server) login(c *gin.Context) {
	tenantName := strings.TrimSpace(c.PostForm("tenant"))
	login := strings.TrimSpace(c.PostForm("login"))
	pw := c.PostForm("password")
	pre, _ := c.Cookie(preCookie)
	if !auth.Equal(c.PostForm(csrfField), pre) {
		s.showLogin(c, http.StatusForbidden, s.t(c, "login.expired"), tenantName, login)
		return
	}
	key := clientIP(c) + "\x00" + strings.ToLower(tenantName) + "\x00" + strings.ToLower(login)
	wait := s.addrs.Take(clientIP(c))
	if wait == 0 {
		wait = s.throttle.blocked(key)
	}
	if wait > 0 {
		s.metrics.logins.WithLabelValues("throttled").Inc()
		c.Header("Retry-After", itoa(int(wait.Seconds())+1))
		s.showLogin(c, http.StatusTooManyRequests, s.t(c, "login.throttled"), tenantName, login)
		return
	}
	// Each check costs argon2's 64 MiB and a core for a moment: only as many
	// run as there are cores, and a login that cannot get a turn soon is told
	// to come back rather than queued without end.
	turn := time.NewTimer(loginWait)
	defer turn.Stop()
	select {
	case s.checks <- struct{}{}:
		defer func() {
			<-s.checks
			// The check's 64 MiB are garbage now; hand them back at once, or
			// the heap grows by that much per check until the next GC cycle
			// and the scavenger catch up (RSS +450 MB under a flood, 2 checks
			// at a time). A GC per check is small next to argon2's own time.
			debug.FreeOSMemory()
		}()
	case <-turn.C:
		s.metrics.logins.WithLabelValues("busy").Inc()
		c.Header("Retry-After", itoa(int(loginWait.Seconds())))
		s.showLogin(c, http.StatusTooManyRequests, s.t(c, "login.busy"), tenantName, login)
		return
	case <-c.Request.Context().Done():
		return
	}
	u, ok := s.checkLogin(c, tenantName, login, pw)
	if !ok {
		s.throttle.fail(key)
		s.metrics.logins.WithLabelValues("failed").Inc()
		s.showLogin(c, http.StatusUnauthorized, s.t(c, "login.wrong"), tenantName, login)
		return
	}
	s.throttle.reset(key)
	sid, csrf := auth.Secret(), auth.Secret()
	if err := s.o.DB.CreateSession(c, u.TenantID, u.ID, auth.Hash(sid), csrf, time.Now().Add(s.o.SessionTTL), clientIP(c)); err != nil {
		s.fail(c, err)
		return
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	s.setCookie(c, preCookie, "", -1)
	s.setCookie(c, sessionCookie, sid, int(s.o.SessionTTL.Seconds()))
	next := safeNext(c.PostForm("next"))
	if next == "" {
		next = home(u.Role)
	}
	c.Redirect(http.StatusSeeOther, next)
}

func (s *Server) checkLogin(c *gin.Context, tenantName, login, pw string) (shifu.User, bool) {
	if tenantName == "" || login == "" || pw == "" {
		return shifu.User{}, false
	}
	t, _, err := s.o.DB.Tenant(c, tenantName)
	if err != nil {
		auth.DummyCheck(pw)
		return shifu.User{}, false
	}
	u, hash, err := s.o.DB.UserByLogin(c, t.ID, login)
	if err != nil {
		auth.DummyCheck(pw)
		return shifu.User{}, false
	}
	return u, auth.CheckPassword(hash, pw)
}

func (s *Server) logout(c *gin.Context) {
	p := who(c)
	if p.SessionID > 0 {
		_ = s.o.DB.DeleteSession(c, p.tenant(), p.SessionID)
	}
	if ck, err := c.Cookie(sessionCookie); err == nil && ck != "" {
		s.creds.forget(sessionKey(auth.Hash(ck)))
	}
	s.setCookie(c, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/login")
}

// home is where a role lands after login.
func home(r shifu.Role) string {
	if r.Allows(shifu.RoleSupervisor) {
		return "/desk"
	}
	return "/"
}

// safeNext keeps only same-site paths, so the login form cannot be used to
// redirect somewhere else. Browsers drop tabs and line ends from URLs and
// read \ as /, so "/\t/host" is "//host": any control character or space
// refuses the path.
func safeNext(n string) string {
	if strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return ""
	}
	if !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.HasPrefix(n, "/\\") {
		return ""
	}
	return n
}

// clientIP is the peer address. X-Forwarded-For is not trusted: it is
// whatever the client says, and trusting it would let anyone escape the throttle.
func clientIP(c *gin.Context) string {
	host, _, err := net.SplitHostPort(c.Request.RemoteAddr)
	if err != nil {
		return c.Request.RemoteAddr
	}
	return host
}

// throttle counts failed logins per key and blocks a key after max failures
// within window, doubling the block on each further failure. A sweeper
// goroutine, stopped by Close, forgets old entries so memory stays bounded.
type throttle struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]*attempts
	stop chan struct{}
	done chan struct{}
}

type attempts struct {
	fails int
	first time.Time
	until time.Time
}

// maxThrottleKeys bounds memory under a spray of distinct logins. When full,
// logins not tracked yet are refused until the sweeper makes room: the limit
// fails closed, never open.
const maxThrottleKeys = 100_000

// loginWait is how long a login waits for a free password check before it is
// told to try again (429).
const loginWait = time.Second

func newThrottle(max int, window time.Duration) *throttle {
	t := &throttle{max: max, window: window, now: time.Now, seen: map[string]*attempts{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go t.sweep()
	return t
}

func (t *throttle) sweep() {
	defer close(t.done)
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.mu.Lock()
			now := t.now()
			for k, a := range t.seen {
				if now.Sub(a.first) > t.window && now.After(a.until) {
					delete(t.seen, k)
				}
			}
			t.mu.Unlock()
		}
	}
}

// Close stops the sweeper and waits for it.
func (t *throttle) Close() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	<-t.done
}

func (t *throttle) blocked(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.seen[key]; a != nil {
		if d := a.until.Sub(t.now()); d > 0 {
			return d
		}
	} else if len(t.seen) >= maxThrottleKeys {
		return time.Minute // full: the next sweep makes room
	}
	return 0
}

func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	a := t.seen[key]
	if a == nil || now.Sub(a.first) > t.window && now.After(a.until) {
		if len(t.seen) >= maxThrottleKeys {
			return // full: blocked refuses untracked keys until the sweep
		}
		a = &attempts{first: now}
		t.seen[key] = a
	}
	a.fails++
	if a.fails >= t.max {
		block := 30 * time.Second << min(a.fails-t.max, 8) // 30 s, 1 min, 2 min … ~2 h
		a.until = now.Add(block)
	}
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	delete(t.seen, key)
	t.mu.Unlock()
}
