package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// Metrics are the server's Prometheus series. Retrieval and Model are
// exported so the answer service can observe its own phases into them.
type Metrics struct {
	Registry  *prometheus.Registry
	requests  *prometheus.HistogramVec
	Retrieval prometheus.Histogram
	Model     prometheus.Histogram
	answers   *prometheus.HistogramVec
	refused   prometheus.Counter // answers refused by admission control
	tokens    *prometheus.CounterVec
	uploads   *prometheus.CounterVec
	logins    *prometheus.CounterVec
	limited   *prometheus.CounterVec
}

// NewMetrics registers Shifu's series and the Go runtime's on a new registry.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m := &Metrics{
		Registry: r,
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "shifu_http_request_seconds",
			Help: "HTTP request latency by route and status (streams: until the last byte).", Buckets: buckets},
			[]string{"method", "route", "code"}),
		Retrieval: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shifu_retrieval_seconds",
			Help: "Time to retrieve passages for a question.", Buckets: buckets}),
		Model: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shifu_model_seconds",
			Help: "Time the chat model took for an answer.", Buckets: buckets}),
		answers: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "shifu_answer_seconds",
			Help: "End-to-end answer latency by channel and outcome.", Buckets: buckets}, []string{"channel", "outcome"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "shifu_answers_refused_total",
			Help: "Answers refused at once because every slot and the queue were full (503 busy)."}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shifu_model_tokens_total",
			Help: "Model tokens used, by kind (prompt, completion)."}, []string{"kind"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shifu_uploads_total",
			Help: "Files uploaded through the web/API, by result."}, []string{"result"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shifu_logins_total",
			Help: "Login attempts by result (ok, failed, throttled, busy)."}, []string{"result"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shifu_limited_total",
			Help: "Answers refused by a per-user or per-tenant limit (429), by route."}, []string{"route"}),
	}
	r.MustRegister(m.requests, m.Retrieval, m.Model, m.answers, m.refused, m.tokens, m.uploads, m.logins, m.limited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchJobs adds a gauge of ingest jobs by state, read from the job queue's
// table at scrape time (it is not a tenant table, so it needs no tenant).
func (m *Metrics) WatchJobs(pool *pgxpool.Pool) {
	m.Registry.MustRegister(&jobCollector{pool: pool, desc: prometheus.NewDesc("shifu_ingest_jobs",
		"Ingest jobs in the queue by state.", []string{"state"}, nil)})
}

type jobCollector struct {
	pool *pgxpool.Pool
	desc *prometheus.Desc
}

func (j *jobCollector) Describe(ch chan<- *prometheus.Desc) { ch <- j.desc }

func (j *jobCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Only ingest's: the queue also holds the bots' gap notices.
	rows, err := j.pool.Query(ctx, `SELECT state::text, count(*) FROM river_job WHERE kind = $1 GROUP BY state`, postgres.IngestJobKind)
	if err != nil {
		return
	}
	defer rows.Close()
	// Every state is reported, zero included, so alerts see a steady series.
	counts := map[string]float64{"available": 0, "running": 0, "retryable": 0, "scheduled": 0, "completed": 0, "discarded": 0, "cancelled": 0}
	for rows.Next() {
		var state string
		var n int64
		if rows.Scan(&state, &n) == nil {
			counts[state] = float64(n)
		}
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(j.desc, prometheus.GaugeValue, n, state)
	}
}

// observe times every request under its route pattern (not its URL, so ids
// do not explode the label set).
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	s.metrics.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
}

func (s *Server) metricsHandler(c *gin.Context) {
	promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP(c.Writer, c.Request)
}

func (s *Server) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

// readyz: the database answers and its schema is the one this binary expects.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c, 3*time.Second)
	defer cancel()
	unready := func(msg string) {
		c.Header("Retry-After", retryAfter)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "error": msg})
	}
	if err := s.o.DB.Ping(ctx); err != nil {
		unready("database unreachable")
		return
	}
	// Every answer is stored: a database that cannot write (read-only, disk
	// full) cannot serve.
	if err := s.o.DB.Writable(ctx); err != nil {
		unready("the database does not take writes (read-only or out of disk space)")
		return
	}
	if err := s.o.DB.CheckSchema(ctx); errors.Is(err, postgres.ErrNewerSchema) {
		// Migrations only add: this server still works, but must be replaced.
		c.JSON(http.StatusOK, gin.H{"status": "ready", "warning": shifu.Message(err)})
		return
	} else if err != nil {
		unready("database schema is older than this server: run shifu migrate")
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
