// Package shifu holds Shifu's domain types and error kinds. It imports only the
// standard library; feature packages (ingest, retrieval, web, …) and adapters
// (internal/postgres, internal/llm, …) depend on it, never the other way round.
package shifu

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// DocKind says what a document is: a manufacturer's manual or a technician's note.
type DocKind string

const (
	KindManual DocKind = "manual"
	KindNote   DocKind = "note"
)

// Valid reports whether k is a kind Shifu stores.
func (k DocKind) Valid() bool { return k == KindManual || k == KindNote }

// Status is where a document is in the ingest pipeline.
type Status string

const (
	StatusQueued    Status = "queued"
	StatusParsing   Status = "parsing"
	StatusEmbedding Status = "embedding"
	StatusReady     Status = "ready"
	StatusFailed    Status = "failed"
	// StatusArchived is a version that was ingested and is kept, but is not
	// the one searched: an older revision, one rolled back from, or the live
	// version of a deleted document.
	StatusArchived Status = "archived"
)

// Done reports whether ingest has finished, well or badly.
func (s Status) Done() bool { return s == StatusReady || s == StatusFailed || s == StatusArchived }

// Role is what a user may do inside a tenant. Roles are ordered: each includes
// the rights of the ones before it.
type Role string

const (
	RoleWorker     Role = "worker"
	RoleSupervisor Role = "supervisor"
	RoleAdmin      Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleWorker:
		return 1
	case RoleSupervisor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a user with role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// Tenant is one factory. All of its data is isolated from every other tenant's.
type Tenant struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// Bot is one Slack or DingTalk installation of a tenant, as the admin sees
// it. Secret and Token are sealed under the tenant's data key (only bot opens
// them) and never leave in JSON.
type Bot struct {
	ID         int64     `json:"id"`
	TenantID   int64     `json:"-"`
	Platform   string    `json:"platform"`    // slack | dingtalk
	ExternalID string    `json:"external_id"` // Slack team id, DingTalk app key
	Secret     []byte    `json:"-"`           // sealed signing secret / app secret
	Token      []byte    `json:"-"`           // sealed bot token (Slack); empty for DingTalk
	CreatedAt  time.Time `json:"created_at"`
}

// Actor is who makes a change, as the audit log records it: a user (ID, and
// the name shown for it) or, with ID 0, the operator's CLI.
type Actor struct {
	UserID int64
	Name   string
}

// User belongs to exactly one tenant.
type User struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"-"` // the caller's own tenant, never a client's to name
	Login    string `json:"login"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
}

// Document is one uploaded file or technician note. It keeps its ID for life;
// each upload of a new revision is a Version, and the fields below describe
// one of them (the live version, unless asked for another). Searches and
// answers use the live version: the newest one that became ready, or the one
// rolled back to.
type Document struct {
	ID         int64    `json:"id"` // the document, stable across revisions
	VersionID  int64    `json:"-"`  // the stored version these fields describe: its original, chunks and ingest job
	TenantID   int64    `json:"-"`
	Name       string   `json:"name"` // file name as uploaded
	Title      string   `json:"title"`
	Kind       DocKind  `json:"kind"`
	SHA256     string   `json:"sha256"` // hex of the original bytes
	Size       int64    `json:"size"`
	MIME       string   `json:"mime"`
	Version    int      `json:"version"`
	Status     Status   `json:"status"`
	Error      string   `json:"error"` // why ingest failed, in plain words
	Progress   Progress `json:"progress"`
	Pages      int      `json:"pages"`
	Chunks     int      `json:"chunks"`
	Language   string   `json:"language"` // "en", "zh", or "" when unknown
	Revision   string   `json:"revision"` // revision label given by the uploader
	UploadedBy string   `json:"uploader"`
	Equipment  string   `json:"equipment"` // equipment tag (notes, or set by a supervisor)
	// UnreadPages are pages OCR read with a confidence below the desk's
	// threshold: their text may be noise, so the desk names them (filled by
	// the desk's listing only).
	UnreadPages []int     `json:"unread_pages,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Live        bool      `json:"live"`                // this version is the one searched
	DeletedAt   time.Time `json:"deleted_at,omitzero"` // zero unless deleted (restorable until purged)
	Versions    []Version `json:"versions"`            // every kept version, oldest first (filled by listings)
}

// FiguresPending is how many figure pages of a searchable (ready) version
// are still being read by OCR (Progress.OCRPending); 0 otherwise.
func (d Document) FiguresPending() int {
	if d.Status != StatusReady {
		return 0
	}
	return d.Progress.OCRPending
}

// MarshalJSON is the one JSON shape of a document, for the API and `shifu
// docs --json`: the version shown (the live one, unless asked for another),
// its stable id, and every kept version (an empty list, not null).
func (d Document) MarshalJSON() ([]byte, error) {
	type plain Document
	if d.Versions == nil {
		d.Versions = []Version{}
	}
	return json.Marshal(plain(d))
}

// Version is one kept revision of a document.
type Version struct {
	ID         int64     `json:"-"` // the stored version (original, chunks, job)
	Version    int       `json:"version"`
	Name       string    `json:"name"` // file name as uploaded
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
	Revision   string    `json:"revision"` // the uploader's label
	UploadedBy string    `json:"uploaded_by"`
	Status     Status    `json:"status"`
	Live       bool      `json:"live"`
	CreatedAt  time.Time `json:"created_at"`
}

// Progress counts what ingest has done so far for a document.
type Progress struct {
	PagesParsed    int `json:"pages_parsed"`
	PagesTotal     int `json:"pages_total"`
	ChunksEmbedded int `json:"chunks_embedded"`
	ChunksTotal    int `json:"chunks_total"`
	// OCRPending counts the pages of a live version still to be read by
	// OCR: a PDF with a text layer is searchable first and its figure
	// pages' text is added after (see ingest's figures pass), which ends
	// when the new chunks have their vectors.
	OCRPending int `json:"ocr_pending,omitempty"`
	// Stages is how long each finished step took so far.
	Stages Stages `json:"stages,omitzero"`
}

// Stages is the time each step of ingesting a document took, in
// milliseconds of wall time (a step not run, or not yet, is 0): where an
// ingest's time went, for the operator and the desk.
type Stages struct {
	Parse   int64 `json:"parse_ms"`   // text layer, OCR and cleaning
	Chunk   int64 `json:"chunk_ms"`   // splitting into chunks
	Terms   int64 `json:"terms_ms"`   // analysing the chunks' terms
	Store   int64 `json:"store_ms"`   // chunks and postings written
	Embed   int64 `json:"embed_ms"`   // vectors computed and written
	Publish int64 `json:"publish_ms"` // the version made live
	// Figures is the pass after publish that reads the figure pages by
	// OCR and swaps in the version's chunks with their text, vectors
	// included.
	Figures int64 `json:"figures_ms,omitempty"`
}

// String lists the steps that ran, as "parse 1.2s, chunk 40ms, ...".
func (s Stages) String() string {
	var b strings.Builder
	for _, st := range []struct {
		name string
		ms   int64
	}{{"parse", s.Parse}, {"chunk", s.Chunk}, {"terms", s.Terms}, {"store", s.Store}, {"embed", s.Embed}, {"publish", s.Publish}, {"figures", s.Figures}} {
		if st.ms <= 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(st.name + " " + (time.Duration(st.ms) * time.Millisecond).String())
	}
	return b.String()
}

// Upload is one file to ingest, from any channel (web, CLI, notes).
type Upload struct {
	Name string // file name as uploaded
	// Body is the file as it streams in (an HTTP part, an open file); it is
	// read once, to its end. Data is the file in memory instead (a note).
	Body      io.Reader
	Data      []byte
	Kind      DocKind // manual (default) or note
	Title     string
	Revision  string
	Equipment string
	UserID    int64 // who uploads it; 0: the operator's CLI
	UserName  string
	// Of is the document this file is the next version of; 0: the document
	// of the same name and kind, or a new one.
	Of int64
	// Confirm accepts a revision that looks like a different manual.
	Confirm bool
}

// Conversation is one conversation: as its owner's history lists it, and
// (UserID, External) as a channel starts it.
type Conversation struct {
	ID        int64     `json:"id"`
	Title     string    `json:"title"`   // the first question
	Channel   string    `json:"channel"` // web | api | cli | slack | dingtalk
	Messages  int       `json:"message_count"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	UserID    int64     `json:"-"` // 0: none (CLI)
	External  string    `json:"-"` // the channel's thread id
}

// AuditEntry is one line of a tenant's audit log: who did what.
type AuditEntry struct {
	ID        int64           `json:"id"`
	Login     string          `json:"login"`
	Action    string          `json:"action"`
	Detail    json.RawMessage `json:"detail"`
	CreatedAt time.Time       `json:"created_at"`
}

// Note is a technician's tip: short, structured, attributed.
type Note struct {
	Title     string
	Equipment string
	Symptom   string
	Cause     string
	Fix       string
	Author    string
}

// GlossaryEntry is a tenant's own word for something (老李说的"对刀"), and
// what it means in the manuals' words ("tool touch-off"); search adds either
// side to a question naming the other.
type GlossaryEntry struct {
	ID      int64     `json:"id"`
	Term    string    `json:"term"`
	Means   string    `json:"means"`
	AddedBy string    `json:"added_by,omitempty"`
	Created time.Time `json:"created"`
}

// Check trims the entry and says what is wrong with it: both sides are
// needed, on one line, a term of at most 100 characters and a meaning of at
// most 200 (a glossary names things; it does not explain them).
func (e *GlossaryEntry) Check() error {
	e.Term, e.Means = strings.TrimSpace(e.Term), strings.TrimSpace(e.Means)
	switch {
	case e.Term == "" || e.Means == "":
		return Errorf(ErrInvalid, "a glossary entry needs both the term and what it means")
	case strings.ContainsAny(e.Term+e.Means, "\r\n\t"):
		return Errorf(ErrInvalid, "a glossary entry is one line: no line breaks or tabs in %q", e.Term)
	case utf8.RuneCountInString(e.Term) > 100:
		return Errorf(ErrInvalid, "glossary term %q is longer than 100 characters", e.Term)
	case utf8.RuneCountInString(e.Means) > 200:
		return Errorf(ErrInvalid, "the meaning of %q is longer than 200 characters", e.Term)
	case strings.EqualFold(e.Term, e.Means):
		return Errorf(ErrInvalid, "glossary term %q means itself", e.Term)
	}
	return nil
}

// Chunk is a retrievable piece of a document.
type Chunk struct {
	ID         int64  `json:"id"`
	DocumentID int64  `json:"version_id"` // the stored version (documents row) it belongs to
	Ord        int    `json:"ord"`        // position in the document
	Text       string `json:"text"`       // what is embedded and shown; starts with the heading path
	Heading    string `json:"heading"`    // heading path, " > " between levels
	PageStart  int    `json:"page_start"` // 1-based physical page; 0 when the format has no pages
	PageEnd    int    `json:"page_end"`
	Anchor     string `json:"anchor"` // id of the nearest preceding heading (HTML)
	Language   string `json:"language"`
	Tokens     int    `json:"tokens"`
	// Breaks are where the pages after PageStart begin in Text, as byte
	// offsets: page PageStart+i+1 begins at Breaks[i] (a page without text
	// begins where the next one does), so a quote cites the page it is on.
	// Empty for a chunk on one page or stored before chunks recorded them
	// (not re-ingested since): such a chunk cites its whole range. Not in
	// JSON: byte offsets into Go's UTF-8 text mean nothing to a client.
	Breaks []int `json:"-"`
}

// Pages are the first and last page of Text[from:to] (byte offsets), so a
// citation names the page its quote is on: one page, or the narrower range
// the quote spans. A chunk that does not know its page breaks, or a span
// not inside Text, gives the chunk's own range.
func (c Chunk) Pages(from, to int) (first, last int) {
	if len(c.Breaks) == 0 || len(c.Breaks) != c.PageEnd-c.PageStart || from < 0 || to > len(c.Text) || from >= to {
		return c.PageStart, c.PageEnd
	}
	at := func(off int) int { // the page the byte at off is on
		return c.PageStart + sort.Search(len(c.Breaks), func(i int) bool { return c.Breaks[i] > off })
	}
	return at(from), at(to - 1)
}

// Body is the chunk's text without the heading line it starts with: the same
// paragraph under two headings is the same paragraph, and a passage quoted
// or compared is its body. A chunk that is only its heading keeps it.
func (c Chunk) Body() string {
	if c.Heading == "" {
		return c.Text
	}
	if first, rest, ok := strings.Cut(c.Text, "\n"); ok && strings.TrimSpace(rest) != "" && strings.Contains(first, c.Section()) {
		return rest
	}
	return c.Text
}

// Section is the innermost heading the chunk is under ("G43.2 Apply
// additional Tool Length Offset"), "" when it has none.
func (c Chunk) Section() string {
	last := c.Heading
	if i := strings.LastIndex(last, " > "); i >= 0 {
		last = last[i+3:]
	}
	return strings.TrimSpace(last)
}

// IndexedChunk is a chunk with its index terms (repeats count as term
// frequency), as ingest hands it to the store.
type IndexedChunk struct {
	Chunk
	Terms     []string
	Embedding []float32 // nil: embedded later; else of DocMeta.EmbedModel
}

// DocMeta is what parsing learned about a document.
type DocMeta struct {
	Title    string
	Pages    int
	Language string
	Analyzer string     // the version of the analyzer that made the terms
	OCR      []PageText // pages read by OCR; replace the document's earlier ones
	// EmbedModel is the model of the chunks' embeddings, when they come
	// with their chunks (a local embedder's).
	EmbedModel string
}

// Hit is a chunk found for a question, with the document it came from.
type Hit struct {
	Chunk
	Document string  `json:"document"` // file name
	Title    string  `json:"title"`
	Kind     DocKind `json:"kind"`
	DocID    int64   `json:"document_id"` // the document (Chunk.DocumentID is its stored version)
	Version  int     `json:"version"`
	Author   string  `json:"author,omitempty"` // notes: who wrote it
	Score    float64 `json:"score"`
}

// Citation ties a numbered reference in an answer to a passage Shifu sent the model.
type Citation struct {
	N        int    `json:"n"`
	Document string `json:"document"`
	Title    string `json:"title"`
	// PageStart and PageEnd are the pages of the text the answer quotes
	// from the passage (Chunk.Pages): one page, or the range it runs over;
	// the passage's range when that is not known.
	PageStart int    `json:"page_start"`
	PageEnd   int    `json:"page_end"`
	Anchor    string `json:"anchor"`
	Quote     string `json:"quote"`
	ChunkID   int64  `json:"chunk_id"`
	DocID     int64  `json:"document_id"`
	// Version is the version of the document the passage came from, so the
	// citation opens what was cited after newer revisions; 0 in citations
	// stored before documents had versions (they open the live one).
	Version int    `json:"version,omitempty"`
	Author  string `json:"author,omitempty"`
	// Verified is false when the model cited this passage but its quote was not
	// found in it; the citation is kept, flagged, rather than trusted.
	Verified bool `json:"verified"`
}

// Name is what a citation calls its document: the title, else the file name,
// on one line (it goes into lists).
func (c Citation) Name() string {
	name := c.Title
	if name == "" {
		name = c.Document
	}
	return strings.Join(strings.Fields(name), " ")
}

// Label names a cited passage for people, in English (bots and pages localise it with Name and i18n.Pages): its
// document's title (else file name) and pages, "Pump manual, pp. 3–5" or
// "Pump manual, p. 3"; no pages for a format without them. White space in
// the title is folded to single spaces.
func (c Citation) Label() string {
	if p := Pages(c.PageStart, c.PageEnd); p != "" {
		return c.Name() + ", " + p
	}
	return c.Name()
}

// Pages names a page or a range of them in English, "p. 3" or "pp. 3–5",
// for every label of where text is (citations, the passages a model is
// shown, the CLI); "" without pages. Bots and pages localise it
// (i18n.Pages).
func Pages(start, end int) string {
	switch {
	case start > 0 && end > start:
		return fmt.Sprintf("pp. %d–%d", start, end)
	case start > 0:
		return fmt.Sprintf("p. %d", start)
	}
	return ""
}

// Usage is what a model call cost.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Answer is what Shifu says to a question.
type Answer struct {
	Text      string     `json:"answer"`
	Citations []Citation `json:"citations"`
	Abstained bool       `json:"abstained"` // the manuals do not cover it
	Degraded  bool       `json:"degraded"`  // no model answer: best passages quoted instead
	// KeywordOnly: the question could not be embedded, so the passages come
	// from keyword search alone.
	KeywordOnly   bool   `json:"keyword_only,omitempty"`
	Model         string `json:"model"`
	PromptVersion string `json:"prompt_version"`
	Usage         Usage  `json:"usage"`
	LatencyMS     int64  `json:"latency_ms"`
	Hits          []Hit  `json:"-"`

	ConversationID int64 `json:"conversation_id,omitempty"`
	MessageID      int64 `json:"message_id,omitempty"` // the stored assistant message, for feedback
}

// Question is what a user asks, from any channel (web, API, CLI, Slack,
// DingTalk). The tenant always comes from the session, token or bot
// installation, never from the request body.
type Question struct {
	Tenant         int64
	UserID         int64 // 0 for the CLI
	Text           string
	ConversationID int64  // 0 starts a new conversation
	Channel        string // web | api | cli | slack | dingtalk
	External       string // channel's own thread id (Slack thread_ts, DingTalk conversationId)
	Lang           string // UI language hint; the answer follows the question's language
	// History is earlier turns the client itself sent (the OpenAI-compatible
	// API carries the whole conversation in each request). It is used for
	// follow-ups only when ConversationID is 0; a stored conversation's own
	// messages win.
	History []Turn
}

// Turn is one earlier message of a conversation, for follow-up questions.
type Turn struct {
	Role    string // user | assistant
	Content string
}

// ChatMessage is a stored message of a conversation, as GET
// /api/conversations/{id} lists it. What the model, prompt and usage were is
// kept for the operator, not sent.
type ChatMessage struct {
	ID             int64  `json:"id"`
	ConversationID int64  `json:"-"`
	Role           string `json:"role"` // user | assistant
	Content        string `json:"content"`
	// HTML is an assistant's answer rendered and sanitised by the web
	// server, as the final event of /api/chat gives it; not stored.
	HTML          string     `json:"html,omitempty"`
	Citations     []Citation `json:"citations"`
	Abstained     bool       `json:"abstained"`
	Degraded      bool       `json:"degraded"`
	Model         string     `json:"-"`
	PromptVersion string     `json:"-"`
	Usage         Usage      `json:"-"`
	LatencyMS     int64      `json:"-"`
	CreatedAt     time.Time  `json:"created_at"`
}

// Gap states a supervisor lists (GET /api/gaps?state=).
const (
	GapsOpen      = "open"
	GapsDismissed = "dismissed"
)

// GapGroup is one knowledge gap: the same question (case and spacing aside,
// or merged by a supervisor) asked one or more times, abstained on or rated
// down.
type GapGroup struct {
	ID        int64     `json:"id"` // newest gap of the group; acting on it acts on the group
	Question  string    `json:"question"`
	Questions []string  `json:"questions"` // every wording asked, newest first (more than one once merged)
	Reasons   []string  `json:"reasons"`
	Count     int       `json:"count"`
	Comments  []string  `json:"comments"`
	Answer    string    `json:"answer"` // what Shifu said, newest
	Latest    time.Time `json:"latest"`
	// A dismissed gap: when and by whom (undone by reopening it).
	DismissedAt *time.Time `json:"dismissed_at,omitempty"`
	DismissedBy string     `json:"dismissed_by,omitempty"`
}

// Answered is a question of the asker's that a note now answers: what the
// worker sees on their next visit ("your questions that now have answers").
type Answered struct {
	IDs          []int64   `json:"ids"` // the gaps (one per time it was asked)
	Question     string    `json:"question"`
	Conversation int64     `json:"conversation_id,omitempty"` // where it was asked (web chat)
	NoteID       int64     `json:"note_id"`                   // the note's document (stable id)
	NoteTitle    string    `json:"note_title"`
	Author       string    `json:"author"`
	AnsweredAt   time.Time `json:"answered_at"`
}

// UserRow is a user as the admin page lists it.
type UserRow struct {
	User
	CreatedAt time.Time `json:"created_at"`
	Disabled  bool      `json:"disabled"`
}

// Token is an API token as listed (never the token itself).
type Token struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Login      string     `json:"login"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Revoked    bool       `json:"revoked"`
}

// Feedback is a thumbs up (+1) or down (-1) on an assistant message.
type Feedback struct {
	MessageID int64  `json:"message_id"`
	UserID    int64  `json:"-"`
	Rating    int    `json:"rating"`
	Comment   string `json:"comment"`
}
