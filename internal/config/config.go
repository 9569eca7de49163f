// Package config reads Shifu's settings from the environment into one
// validated struct. Nothing else reads the environment.
package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Config is every setting Shifu has. Secrets are kept in fields whose String
// form is redacted (see Secret), so logging a Config leaks nothing.
type Config struct {
	DatabaseURL Secret // role that owns the schema: migrate and tenant create
	MasterKey   Secret // base64 of 32 bytes
	Addr        string // listen address of `shifu serve`
	PublicURL   string // how users reach the web app, for links in bot messages

	// Database logins. Only `shifu migrate` and `shifu tenant create` use
	// DatabaseURL; the server and every other command connect as the login
	// role shifu_app: AppDatabaseURL when set, else DatabaseURL's server and
	// database as shifu_app with AppPassword (which `shifu migrate` sets).
	AppDatabaseURL Secret // SHIFU_APP_DATABASE_URL
	AppPassword    Secret // SHIFU_APP_PASSWORD

	MaxUploadBytes int64
	ParseTimeout   time.Duration
	// PDFText picks the PDF text extractor: "pdfium" (pure Go, WebAssembly),
	// "pdftotext" (poppler: about 4x faster end to end here, same retrieval
	// quality on the eval set; poppler's pdfinfo and pdftohtml read the
	// page count, title and outline, PDFium what poppler cannot, and PDFium
	// renders pages), or "auto": pdftotext when installed, else PDFium.
	PDFText string
	Workers int // ingest jobs run at once
	// CacheDir keeps what a process can reuse from the last one: PDFium's
	// WebAssembly compiled to machine code (~4.7 s of CPU each start
	// otherwise). SHIFU_CACHE_DIR, default $XDG_CACHE_HOME/shifu, else
	// ~/.cache/shifu; "off" (or no home): compile in every process.
	CacheDir string

	// Dict is the bilingual dictionary file for offline query translation
	// (CC-CEDICT, built by scripts/deps.sh with 'shifu dict build');
	// default .data/cedict.txt, where scripts/deps.sh writes it. "off": the
	// glossary alone.
	Dict string
	// WordNet is the directory of the English WordNet database (Debian's
	// wordnet-base) whose synonyms of everyday words widen English
	// questions; "off": none.
	WordNet string
	OCR     OCR

	Embed  Model
	LLM    Model
	Rerank Model

	SlackAPIURL string
	// DingTalkStream: shifu serve opens a Stream-mode connection for every
	// DingTalk installation, for factories DingTalk cannot reach over HTTP
	// (set the apps to Stream mode in DingTalk's console); otherwise DingTalk
	// pushes messages to the HTTP callback.
	DingTalkStream bool
	DingTalkAPIURL string // Stream mode's OpenAPI host; "" for DingTalk's (tests point it at a fake)

	// Scaling past one process (docs/scaling.md). ReplicaURL, when set, is a
	// streaming replica of DATABASE_URL's database (same roles) that
	// searches go to once it has replayed the primary's WAL position, waited
	// for up to ReplicaWait, else the primary. JobTimeout bounds one ingest
	// job; a job whose process died is taken up by another process
	// JobTimeout/20 after its timeout.
	ReplicaURL  Secret
	ReplicaWait time.Duration
	JobTimeout  time.Duration
	// Retention. A deleted document can be restored for DeleteRetention,
	// then it is purged with every version, original, chunk and posting.
	// A version that stopped being live is purged after VersionRetention;
	// 0 (SHIFU_VERSION_RETENTION unset or "forever") keeps every version.
	DeleteRetention  time.Duration
	VersionRetention time.Duration
	Limits           Limits
}

// Limits bound what one caller may cost, how long a worker waits and how
// much work the server takes on at once (README, "Limits"). Answers over a
// rate or budget get 429 with Retry-After, on the web chat, /v1 and the bots;
// past a deadline an answer degrades to quoted passages; past the admission
// bound a request is refused quickly with 503 and Retry-After.
type Limits struct {
	UserPerMinute      int   // SHIFU_RATE_USER: answers a user may ask for a minute (10)
	TenantPerMinute    int   // SHIFU_RATE_TENANT: answers a tenant may ask for a minute (120)
	UserTokensPerDay   int64 // SHIFU_TOKENS_USER_DAY: model tokens a user may spend a UTC day (200,000)
	TenantTokensPerDay int64 // SHIFU_TOKENS_TENANT_DAY: model tokens a tenant may spend a UTC day (5,000,000)
	LoginChecks        int   // SHIFU_LOGIN_CHECKS: password checks at once, 64 MiB each (the number of cores)
	LoginsPerMinute    int   // SHIFU_LOGINS_PER_MINUTE: login attempts per client address a minute (30)

	// Model deadlines (the whole answer is LLM.Timeout, default 20 s): time to
	// the first streamed chunk and the longest silence between chunks.
	LLMFirstToken time.Duration // SHIFU_LLM_FIRST_TOKEN_TIMEOUT, default 8 s
	LLMIdle       time.Duration // SHIFU_LLM_IDLE_TIMEOUT, default 5 s
	// EmbedQuery bounds embedding a question; past it (or while the embedding
	// breaker is open) the question is answered from keyword search.
	EmbedQuery time.Duration // SHIFU_EMBED_QUERY_TIMEOUT, default 1 s
	// Answers in flight at once, how many more may wait, and for how long.
	MaxAnswers int           // SHIFU_MAX_ANSWERS, default 4 per CPU (at least 4)
	Queue      int           // SHIFU_ANSWER_QUEUE, default 2 × MaxAnswers
	QueueWait  time.Duration // SHIFU_ANSWER_QUEUE_WAIT, default 1 s
	// Grace is how long SIGTERM waits for answers in flight.
	Grace time.Duration // SHIFU_SHUTDOWN_GRACE, default 30 s
}

// OCR is how scanned pages and images are read (Tesseract).
type OCR struct {
	// Engine: "auto" (tesseract when installed, else no OCR), "tesseract"
	// (required), or "off".
	Engine        string
	Languages     []string      // Tesseract language packs, e.g. eng, chi_sim
	DPI           int           // scanned PDF pages are rendered at this resolution
	Workers       int           // pages OCR'd at once per process, across all documents
	PageTimeout   time.Duration // per page
	MinConfidence float64       // pages read with a lower mean confidence are listed as unreadable
}

// Model says which hosted model to call, or "offline"/"" for none.
type Model struct {
	Provider string // offline | openai | dashscope | compatible | "" (none)
	BaseURL  string
	APIKey   Secret
	Model    string
	Dim      int // embeddings only
	Timeout  time.Duration
	// Fusion (embeddings only, SHIFU_EMBED_FUSION) is the vector score's
	// weight in hybrid search, in (0, 1]. It follows the embedder: 0 for
	// the offline one means the searcher's default tuned for it (0.15: its
	// vectors are hashed words, a weaker copy of BM25); a hosted semantic
	// model defaults to HostedFusion, since its vectors match meaning and
	// bridge languages where words do not.
	Fusion float64
}

// HostedFusion is a hosted embedder's default fusion weight: an even share,
// the convex-combination literature's starting point for a semantic model
// beside BM25 (Bruch et al., 2023); not tuned here, where no hosted model
// can be called. Set SHIFU_EMBED_FUSION after measuring with `shifu eval`.
const HostedFusion = 0.5

// cacheDir resolves SHIFU_CACHE_DIR (v): "off" is none; unset is the XDG
// cache directory's shifu, as os.UserCacheDir has it but read through getenv.
// A relative path would move with the working directory, so it is refused.
func cacheDir(v string, getenv func(string) string, bad func(string, ...any)) string {
	switch {
	case v == "off":
		return ""
	case v != "":
		if !filepath.IsAbs(v) {
			bad("SHIFU_CACHE_DIR=%q: want an absolute directory, or off", v)
			return ""
		}
		return filepath.Clean(v)
	}
	if x := strings.TrimSpace(getenv("XDG_CACHE_HOME")); filepath.IsAbs(x) {
		return filepath.Join(x, "shifu")
	}
	if h := strings.TrimSpace(getenv("HOME")); filepath.IsAbs(h) {
		return filepath.Join(h, ".cache", "shifu")
	}
	return ""
}

// Secret is a string that never prints.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the value too.
func (s Secret) GoString() string { return s.String() }

// Value returns the secret itself, for the one place that needs it.
func (s Secret) Value() string { return string(s) }

// Load reads the environment through getenv and validates it. Every problem is
// reported at once, naming the variable and what it accepts.
func Load(getenv func(string) string) (Config, error) {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	num := func(name string, def int64) int64 {
		v := str(name, "")
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			bad("%s=%q: want a positive whole number", name, v)
			return def
		}
		return n
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := str(name, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad("%s=%q: want a positive duration such as 30s or 2m", name, v)
			return def
		}
		return d
	}

	c := Config{
		DatabaseURL:    Secret(str("DATABASE_URL", "")),
		MasterKey:      Secret(str("SHIFU_MASTER_KEY", "")),
		Addr:           str("SHIFU_ADDR", ":8080"),
		PublicURL:      strings.TrimRight(str("SHIFU_PUBLIC_URL", "http://localhost:8080"), "/"),
		MaxUploadBytes: num("SHIFU_MAX_UPLOAD_BYTES", 200<<20),
		ParseTimeout:   dur("SHIFU_PARSE_TIMEOUT", 5*time.Minute),
		Workers:        int(num("SHIFU_WORKERS", 2)),
		PDFText:        str("SHIFU_PDF_TEXT", "auto"),
		SlackAPIURL:    str("SHIFU_SLACK_API_URL", ""),
		DingTalkAPIURL: strings.TrimRight(str("SHIFU_DINGTALK_API_URL", ""), "/"),
	}
	c.AppDatabaseURL, c.AppPassword = Secret(str("SHIFU_APP_DATABASE_URL", "")), Secret(getenv("SHIFU_APP_PASSWORD"))
	for _, r := range c.AppPassword.Value() {
		if r < 0x21 || r > 0x7e {
			bad("SHIFU_APP_PASSWORD: use printable ASCII without spaces (e.g. `head -c 18 /dev/urandom | base64`)")
			break
		}
	}
	c.Limits = Limits{
		UserPerMinute:      int(num("SHIFU_RATE_USER", 10)),
		TenantPerMinute:    int(num("SHIFU_RATE_TENANT", 120)),
		UserTokensPerDay:   num("SHIFU_TOKENS_USER_DAY", 200_000),
		TenantTokensPerDay: num("SHIFU_TOKENS_TENANT_DAY", 5_000_000),
		LoginChecks:        int(num("SHIFU_LOGIN_CHECKS", int64(runtime.NumCPU()))),
		LoginsPerMinute:    int(num("SHIFU_LOGINS_PER_MINUTE", 30)),
	}
	c.ReplicaURL = Secret(str("SHIFU_REPLICA_DATABASE_URL", ""))
	c.ReplicaWait = dur("SHIFU_REPLICA_WAIT", 100*time.Millisecond)
	c.JobTimeout = dur("SHIFU_JOB_TIMEOUT", 20*time.Minute)
	c.Dict = str("SHIFU_DICT", ".data/cedict.txt")
	c.CacheDir = cacheDir(str("SHIFU_CACHE_DIR", ""), getenv, bad)
	c.WordNet = str("SHIFU_WORDNET", "/usr/share/wordnet")

	c.OCR = OCR{
		Engine:        str("SHIFU_OCR", "auto"),
		Languages:     strings.FieldsFunc(str("SHIFU_OCR_LANGUAGES", "eng+chi_sim"), func(r rune) bool { return r == '+' || r == ',' || r == ' ' }),
		DPI:           int(num("SHIFU_OCR_DPI", 200)),
		Workers:       int(num("SHIFU_OCR_WORKERS", 2)),
		PageTimeout:   dur("SHIFU_OCR_PAGE_TIMEOUT", 2*time.Minute),
		MinConfidence: float64(num("SHIFU_OCR_MIN_CONFIDENCE", 60)),
	}
	if e := c.OCR.Engine; e != "auto" && e != "tesseract" && e != "off" {
		bad("SHIFU_OCR=%q: want auto, tesseract or off", e)
	}
	if len(c.OCR.Languages) == 0 {
		bad("SHIFU_OCR_LANGUAGES is empty: want Tesseract language packs such as eng+chi_sim")
	}
	for _, l := range c.OCR.Languages {
		if strings.Trim(l, "abcdefghijklmnopqrstuvwxyz_") != "" {
			bad("SHIFU_OCR_LANGUAGES: %q is not a Tesseract language name (such as eng, chi_sim)", l)
		}
	}
	if d := c.OCR.DPI; d < 100 || d > 600 {
		bad("SHIFU_OCR_DPI=%d: want 100 to 600 (200 reads 9-point text well)", d)
	}
	if w := c.OCR.Workers; w < 1 || w > 64 {
		bad("SHIFU_OCR_WORKERS=%d: want 1 to 64", w)
	}
	if m := c.OCR.MinConfidence; m < 0 || m > 100 {
		bad("SHIFU_OCR_MIN_CONFIDENCE=%v: want 0 to 100", m)
	}
	switch v := str("SHIFU_DINGTALK_STREAM", ""); strings.ToLower(v) {
	case "", "0", "false", "no":
	case "1", "true", "yes":
		c.DingTalkStream = true
	default:
		bad("SHIFU_DINGTALK_STREAM=%q: want 1 or 0 (true or false)", v)
	}

	dash, oai := str("DASHSCOPE_API_KEY", ""), str("OPENAI_API_KEY", "")

	// Embeddings: explicit settings win; a lone DashScope or OpenAI key picks
	// that provider; otherwise the offline embedder. A provider's endpoint
	// and default model are internal/llm's (an empty field takes them).
	c.Embed = Model{
		BaseURL: str("SHIFU_EMBED_BASE_URL", ""),
		APIKey:  Secret(str("SHIFU_EMBED_API_KEY", "")),
		Model:   str("SHIFU_EMBED_MODEL", ""),
		Dim:     int(num("SHIFU_EMBED_DIM", 0)),
		Timeout: dur("SHIFU_EMBED_TIMEOUT", 60*time.Second),
	}
	switch {
	case c.Embed.BaseURL != "":
		c.Embed.Provider = "compatible"
		if c.Embed.Model == "" {
			bad("SHIFU_EMBED_MODEL: required with SHIFU_EMBED_BASE_URL")
		}
	case dash != "":
		c.Embed.Provider, c.Embed.APIKey = "dashscope", Secret(dash)
	case oai != "":
		c.Embed.Provider, c.Embed.APIKey = "openai", Secret(oai)
	default:
		c.Embed.Provider = "offline"
	}
	if c.Embed.Dim == 0 {
		// Every provider, the offline embedder included, fills the halfvec(1024)
		// column; the offline default lives in model.DefaultHashConfig.
		c.Embed.Dim = 1024
	}
	if c.Embed.Provider != "offline" {
		c.Embed.Fusion = HostedFusion
	}
	if v := str("SHIFU_EMBED_FUSION", ""); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= 1) {
			bad("SHIFU_EMBED_FUSION=%q: want the vector score's weight in hybrid search, above 0 and at most 1 (offline default 0.15, hosted %v)", v, HostedFusion)
		} else {
			c.Embed.Fusion = f
		}
	}
	if c.Embed.Dim > 1024 {
		bad("SHIFU_EMBED_DIM=%d: at most 1024 (the vector column is halfvec(1024); ask the model for 1024 dimensions)", c.Embed.Dim)
	}

	c.LLM = Model{
		BaseURL: str("SHIFU_LLM_BASE_URL", ""),
		APIKey:  Secret(str("SHIFU_LLM_API_KEY", "")),
		Model:   str("SHIFU_LLM_MODEL", ""),
		Timeout: dur("SHIFU_LLM_TIMEOUT", 20*time.Second), // the whole answer; see Limits
	}
	switch {
	case c.LLM.BaseURL != "":
		c.LLM.Provider = "compatible"
		if c.LLM.Model == "" {
			bad("SHIFU_LLM_MODEL: required with SHIFU_LLM_BASE_URL")
		}
	case dash != "":
		c.LLM.Provider, c.LLM.APIKey = "dashscope", Secret(dash)
	case oai != "":
		c.LLM.Provider, c.LLM.APIKey = "openai", Secret(oai)
	}

	c.Rerank = Model{
		BaseURL: str("SHIFU_RERANK_BASE_URL", ""),
		APIKey:  Secret(str("SHIFU_RERANK_API_KEY", "")),
		Model:   str("SHIFU_RERANK_MODEL", ""),
		Timeout: dur("SHIFU_RERANK_TIMEOUT", 10*time.Second),
	}
	if c.Rerank.BaseURL != "" {
		c.Rerank.Provider = str("SHIFU_RERANK_PROVIDER", "cohere")
		if c.Rerank.Provider != "cohere" && c.Rerank.Provider != "dashscope" {
			bad("SHIFU_RERANK_PROVIDER=%q: want cohere (Cohere/Jina /rerank shape) or dashscope", c.Rerank.Provider)
		}
	}

	c.DeleteRetention = dur("SHIFU_DELETE_RETENTION", 30*24*time.Hour)
	if v := str("SHIFU_VERSION_RETENTION", ""); v != "forever" {
		c.VersionRetention = dur("SHIFU_VERSION_RETENTION", 0)
	}

	if u := c.DingTalkAPIURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad("SHIFU_DINGTALK_API_URL=%q: want an http(s) URL such as https://api.dingtalk.com", u)
		}
	}
	if c.PDFText != "auto" && c.PDFText != "pdfium" && c.PDFText != "pdftotext" {
		bad("SHIFU_PDF_TEXT=%q: want auto, pdfium or pdftotext", c.PDFText)
	}
	if c.Workers > 64 {
		bad("SHIFU_WORKERS=%d: at most 64", c.Workers)
	}
	c.Limits.LLMFirstToken = dur("SHIFU_LLM_FIRST_TOKEN_TIMEOUT", 8*time.Second)
	c.Limits.LLMIdle = dur("SHIFU_LLM_IDLE_TIMEOUT", 5*time.Second)
	c.Limits.EmbedQuery = dur("SHIFU_EMBED_QUERY_TIMEOUT", time.Second)
	c.Limits.MaxAnswers = int(num("SHIFU_MAX_ANSWERS", int64(max(4, 4*runtime.NumCPU()))))
	c.Limits.QueueWait = dur("SHIFU_ANSWER_QUEUE_WAIT", time.Second)
	c.Limits.Grace = dur("SHIFU_SHUTDOWN_GRACE", 30*time.Second)
	c.Limits.Queue = int(num("SHIFU_ANSWER_QUEUE", int64(2*c.Limits.MaxAnswers)))
	if c.Limits.LLMFirstToken > c.LLM.Timeout || c.Limits.LLMIdle > c.LLM.Timeout {
		bad("SHIFU_LLM_FIRST_TOKEN_TIMEOUT (%v) and SHIFU_LLM_IDLE_TIMEOUT (%v): each at most SHIFU_LLM_TIMEOUT (%v), the whole answer's deadline",
			c.Limits.LLMFirstToken, c.Limits.LLMIdle, c.LLM.Timeout)
	}
	if c.Limits.MaxAnswers > 10000 || c.Limits.Queue > 100000 {
		bad("SHIFU_MAX_ANSWERS=%d, SHIFU_ANSWER_QUEUE=%d: at most 10000 and 100000", c.Limits.MaxAnswers, c.Limits.Queue)
	}

	if len(errs) > 0 {
		return c, fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return c, nil
}
