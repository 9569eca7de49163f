// Package web is Shifu's HTTP face: the worker's chat, the supervisor's desk,
// the admin page, the JSON API under /api/, the OpenAI-compatible API under
// /v1/, health and metrics. Every route is declared once in a table with the
// role it needs; the tenant always comes from the session or bearer token.
package web

import (
	"context"
	"embed"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/admit"
	"github.com/shifu-factory/shifu/internal/limit"
	"github.com/shifu-factory/shifu/internal/postgres"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Asker answers questions with retrieval and citations (answer).
// It stores the conversation and returns its ids in the Answer. onDelta gets
// the answer text as it streams.
type Asker interface {
	Ask(ctx context.Context, q shifu.Question, onDelta func(string)) (shifu.Answer, error)
}

// Ingester stores uploads and notes and queues their ingest (ingest.Service).
type Ingester interface {
	Add(ctx context.Context, tenant int64, u shifu.Upload) (doc shifu.Document, dup bool, err error)
	AddNote(ctx context.Context, tenant int64, n shifu.Note, userID int64) (shifu.Document, bool, error)
	Reingest(ctx context.Context, tenant, id int64, by shifu.Actor) error
	// Original is a stored version's original whole (for PDFium);
	// OpenOriginal streams it, reading only the segments asked for.
	Original(ctx context.Context, tenant, versionID int64) ([]byte, error)
	OpenOriginal(ctx context.Context, tenant, versionID int64) (io.ReadSeeker, error)
}

// PageRenderer draws one page (1-based) of a PDF as a PNG widthPx wide.
type PageRenderer interface {
	RenderPage(ctx context.Context, pdf []byte, page, widthPx int) ([]byte, error)
}

// Options are the server's parts and limits. DB is required; a nil Asker,
// Ingester, Renderer or BotAdmin makes its routes answer 503.
type Options struct {
	DB       *postgres.DB
	Asker    Asker
	Ingester Ingester
	Renderer PageRenderer
	Bots     http.Handler // mounted at /bots/ when set; it authenticates its own requests
	BotAdmin BotAdmin     // the admin's bot installations; nil: /api/bots answers 503
	// Notices is the queue of the notices told in the bot threads where an
	// answered gap was asked (gateway.Notices.Queue); nil: web only.
	Notices postgres.JobQueue

	MaxUploadBytes int64 // per file; default 200 MiB
	MaxBatchBytes  int64 // per request; default 4 × MaxUploadBytes
	// SecureCookies marks cookies Secure even when TLS ends at a proxy
	// (requests arriving over TLS get Secure anyway).
	SecureCookies bool
	SessionTTL    time.Duration // default 12 h
	ModelName     string        // the id /v1/models lists; default "shifu"
	PageCacheMB   int           // rendered page images kept; default 64
	// OCRMinConfidence: pages OCR read with a lower mean confidence (0..100)
	// are listed on the desk as not read well; default 60.
	OCRMinConfidence float64
	// Limits bound answers per user and tenant (requests a minute, tokens a
	// day) on /api/chat and /v1; nil: no limits.
	Limits *limit.Answers
	// LoginChecks is how many password checks (argon2id, 64 MiB each) run at
	// once; default the number of cores. LoginsPerMinute is what one client
	// address may try a minute (default 30: a shift behind one NAT).
	LoginChecks     int
	LoginsPerMinute int
	Logger          *slog.Logger
	Metrics         *Metrics // default: a new registry
	// Admission bounds the answers in flight (web chat and /v1); nil: no bound.
	Admission *admit.Limiter
}

// Server is the web app. Close stops its background work.
type Server struct {
	o        Options
	engine   *gin.Engine
	tmpl     *templates
	throttle *throttle
	addrs    *limit.Buckets // login attempts per client address
	checks   chan struct{}  // a turn at a password check
	renders  chan struct{}  // a turn at rendering a page image
	pages    *pageCache
	metrics  *Metrics
	log      *slog.Logger
	routes   []route
	creds    *credCache // bearer tokens and sessions resolved in the last few seconds
}

// New builds the server and its route table.
func New(o Options) (*Server, error) {
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 200 << 20
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 4 * o.MaxUploadBytes
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.ModelName == "" {
		o.ModelName = "shifu"
	}
	if o.OCRMinConfidence <= 0 {
		o.OCRMinConfidence = 60
	}
	if o.PageCacheMB <= 0 {
		o.PageCacheMB = 64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.LoginChecks <= 0 {
		o.LoginChecks = runtime.NumCPU()
	}
	if o.LoginsPerMinute <= 0 {
		o.LoginsPerMinute = 30
	}
	if o.Limits != nil && o.Asker != nil {
		o.Asker = o.Limits.Count(o.Asker)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	t, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, tmpl: t, throttle: newThrottle(5, 15*time.Minute), pages: newPageCache(int64(o.PageCacheMB) << 20),
		addrs:  limit.NewBuckets(o.LoginsPerMinute, o.LoginsPerMinute, maxThrottleKeys),
		checks: make(chan struct{}, o.LoginChecks), renders: make(chan struct{}, runtime.NumCPU()), metrics: o.Metrics, log: o.Logger, creds: newCredCache()}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.ContextWithFallback = true
	e.HandleMethodNotAllowed = true
	e.Use(s.recoverer, s.observe, s.secureHeaders, s.shed)
	e.NoRoute(func(c *gin.Context) {
		s.fail(c, shifu.Errorf(shifu.ErrNotFound, "no such page or API: %s", c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		s.fail(c, shifu.Errorf(shifu.ErrInvalid, "method %s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})
	s.routes = s.table()
	for _, r := range s.routes {
		e.Handle(r.method, r.path, s.guard(r), r.h)
	}
	static, _ := fs.Sub(staticFS, "static")
	e.StaticFS("/static", http.FS(static))
	if o.Bots != nil {
		e.Any("/bots/*path", gin.WrapH(o.Bots))
	}
	s.engine = e
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Close stops the login throttle's sweeper.
func (s *Server) Close() { s.throttle.Close() }

// Routes lists method, path and role of every route (for tests and docs).
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, r := range s.routes {
		out[i] = RouteInfo{Method: r.method, Path: r.path, Role: r.role, Page: r.page}
	}
	return out
}

// RouteInfo describes one route.
type RouteInfo struct {
	Method, Path string
	Role         shifu.Role // "" for public
	Page         bool       // an HTML page: anonymous users are sent to /login
}

// route is one row of the table: who may call it and what handles it.
type route struct {
	method, path string
	role         shifu.Role
	page         bool
	h            gin.HandlerFunc
}

const (
	public     = shifu.Role("")
	worker     = shifu.RoleWorker
	supervisor = shifu.RoleSupervisor
	admin      = shifu.RoleAdmin
)

func (s *Server) table() []route {
	get, post, del := http.MethodGet, http.MethodPost, http.MethodDelete
	return []route{
		{get, "/healthz", public, false, s.healthz},
		{get, "/readyz", public, false, s.readyz},
		{get, "/metrics", public, false, s.metricsHandler},
		{get, "/login", public, true, s.loginPage},
		{post, "/login", public, true, s.login},

		{get, "/", worker, true, s.chatPage},
		{post, "/logout", worker, true, s.logout},
		{get, "/api/me", worker, false, s.me},
		{post, "/api/me/password", worker, false, s.changeOwnPassword},
		{get, "/api/me/answered", worker, false, s.answered},
		{post, "/api/me/answered/seen", worker, false, s.seeAnswered},
		{post, "/api/chat", worker, false, s.admit(s.admitted(s.chat))},
		{post, "/api/feedback", worker, false, s.feedback},
		{get, "/api/conversations", worker, false, s.conversations},
		{get, "/api/conversations/:id", worker, false, s.conversation},
		{get, "/api/documents/:id/original", worker, false, s.original},
		{get, "/api/documents/:id/pages/:page", worker, false, s.pageImage},
		{get, "/documents/:id", worker, true, s.documentPage},
		{get, "/v1/models", worker, false, s.models},
		{post, "/v1/chat/completions", worker, false, s.admit(s.admitted(s.completions))},

		{get, "/desk", supervisor, true, s.deskPage},
		{get, "/api/documents", supervisor, false, s.listDocuments},
		{post, "/api/documents", supervisor, false, s.upload},
		{get, "/api/documents/:id", supervisor, false, s.getDocument},
		{del, "/api/documents/:id", supervisor, false, s.deleteDocument},
		{post, "/api/documents/:id/reingest", supervisor, false, s.reingest},
		{post, "/api/documents/:id/revision", supervisor, false, s.revision},
		{post, "/api/documents/:id/revert", supervisor, false, s.revertDocument},
		{post, "/api/documents/:id/restore", supervisor, false, s.restoreDocument},
		{post, "/api/notes", supervisor, false, s.addNote},
		{get, "/api/gaps", supervisor, false, s.gaps},
		{get, "/gaps", supervisor, true, s.gapsPage},
		{post, "/api/gaps/:id/note", supervisor, false, s.answerGap},
		{post, "/api/gaps/:id/dismiss", supervisor, false, s.dismissGap},
		{post, "/api/gaps/:id/reopen", supervisor, false, s.reopenGap},
		{post, "/api/gaps/:id/merge", supervisor, false, s.mergeGaps},
		{get, "/api/glossary", supervisor, false, s.glossary},
		{post, "/api/glossary", supervisor, false, s.addGlossary},
		{del, "/api/glossary/:id", supervisor, false, s.removeGlossary},

		{get, "/admin", admin, true, s.adminPage},
		{get, "/api/users", admin, false, s.listUsers},
		{post, "/api/users", admin, false, s.createUser},
		{post, "/api/users/:id/disable", admin, false, s.disableUser},
		{post, "/api/users/:id/enable", admin, false, s.enableUser},
		{post, "/api/users/:id/password", admin, false, s.resetPassword},
		{post, "/api/users/:id/role", admin, false, s.setRole},
		{get, "/api/tokens", admin, false, s.listTokens},
		{post, "/api/tokens", admin, false, s.createToken},
		{del, "/api/tokens/:id", admin, false, s.revokeToken},
		{get, "/api/bots", admin, false, s.listBots},
		{post, "/api/bots", admin, false, s.addBot},
		{del, "/api/bots/:id", admin, false, s.removeBot},
		{get, "/api/audit", admin, false, s.auditLog},
	}
}
