package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu"
)

func (s *Server) listDocuments(c *gin.Context) {
	docs, err := s.o.DB.Documents(c, who(c).tenant(), c.Query("deleted") != "")
	if err != nil {
		s.fail(c, err)
		return
	}
	unread, err := s.o.DB.UnreadPages(c, who(c).tenant(), s.o.OCRMinConfidence)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]shifu.Document, 0, len(docs))
	for _, d := range docs {
		if k := c.Query("kind"); k != "" && string(d.Kind) != k {
			continue
		}
		d.UnreadPages = unread[d.VersionID] // page_texts belong to the stored version
		out = append(out, d)
	}
	c.JSON(http.StatusOK, gin.H{"documents": out})
}

// getDocument shows a document as its live version shows it, or version
// ?v=N (the desk follows a revision's ingest so).
func (s *Server) getDocument(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	n, err := versionParam(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	d, err := s.o.DB.DocumentVersion(c, who(c).tenant(), id, n)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

// deleteDocument deletes softly: the document leaves search at once and can
// be restored until the retention period purges it.
func (s *Server) deleteDocument(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	if err := s.o.DB.DeleteDocument(c, p.tenant(), id, p.actor()); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"deleted": id})
}

func (s *Server) restoreDocument(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	if err := s.o.DB.Restore(c, p.tenant(), id, p.actor()); err != nil {
		s.fail(c, err)
		return
	}
	d, err := s.o.DB.Document(c, p.tenant(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

type revertRequest struct {
	Version int `json:"version"`
}

// revertDocument makes a kept version live again.
func (s *Server) revertDocument(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	var req revertRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.Version <= 0 {
		s.fail(c, shifu.Errorf(shifu.ErrInvalid, "version %d: send the number of a kept version, such as {\"version\": 1}", req.Version))
		return
	}
	p := who(c)
	if _, err := s.o.DB.Revert(c, p.tenant(), id, req.Version, p.actor()); err != nil {
		s.fail(c, err)
		return
	}
	d, err := s.o.DB.Document(c, p.tenant(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (s *Server) reingest(c *gin.Context) {
	if s.o.Ingester == nil {
		s.fail(c, shifu.Errorf(shifu.ErrUnavailable, "ingest is not available on this server"))
		return
	}
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	if err := s.o.Ingester.Reingest(c, p.tenant(), id, p.actor()); err != nil {
		s.fail(c, err)
		return
	}
	s.pages.dropDoc(p.tenant(), id)
	d, err := s.o.DB.Document(c, p.tenant(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, d)
}

// versionParam is the version ?v= names; 0 when absent (the live one).
func versionParam(c *gin.Context) (int, error) {
	v := c.Query("v")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, shifu.Errorf(shifu.ErrInvalid, "v=%q: want a version number such as v=2", v)
	}
	return n, nil
}

// citedVersion is the version of document :id that ?v= names (a citation
// opens the version it cited), else the version it shows. A deleted
// document is not found: it left search and citations with it. The
// X-Shifu-Version and X-Shifu-Live-Version headers let a viewer say when a
// newer revision than the one cited exists.
func (s *Server) citedVersion(c *gin.Context) (shifu.Document, bool) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return shifu.Document{}, false
	}
	n, err := versionParam(c)
	if err != nil {
		s.fail(c, err)
		return shifu.Document{}, false
	}
	d, err := s.o.DB.DocumentVersion(c, who(c).tenant(), id, n)
	if err == nil && !d.DeletedAt.IsZero() {
		err = shifu.Errorf(shifu.ErrNotFound, "document %d was deleted", id)
	}
	if err != nil {
		s.fail(c, err)
		return d, false
	}
	c.Header("X-Shifu-Version", strconv.Itoa(d.Version))
	for _, v := range d.Versions {
		if v.Live {
			c.Header("X-Shifu-Live-Version", strconv.Itoa(v.Version))
		}
	}
	return d, true
}

// original sends the decrypted upload of one version (?v=N, default the
// live one) under its own file name, only ever of the caller's tenant (the
// tenant comes from the session; row-level security does the rest).
func (s *Server) original(c *gin.Context) {
	if s.o.Ingester == nil {
		s.fail(c, shifu.Errorf(shifu.ErrUnavailable, "originals are not available on this server"))
		return
	}
	d, ok := s.citedVersion(c)
	if !ok {
		return
	}
	// Streamed segment by segment (ranges read only theirs); a segment
	// that fails to open mid-way cuts the response short of its length.
	body, err := s.o.Ingester.OpenOriginal(c, who(c).tenant(), d.VersionID)
	if err != nil {
		s.fail(c, err)
		return
	}
	ct := d.MIME
	if ct == "" || strings.HasPrefix(ct, "text/html") {
		// Never serve a stored HTML manual as HTML from our origin: its
		// scripts would run with the user's session.
		ct = "text/plain; charset=utf-8"
	}
	disp := "inline"
	if c.Query("download") != "" || ct != "application/pdf" {
		disp = "attachment"
	}
	c.Header("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": d.Name}))
	c.Header("Content-Security-Policy", "default-src 'none'; sandbox")
	c.Header("Cache-Control", "private, no-store")
	c.Header("Content-Type", ct)
	http.ServeContent(c.Writer, c.Request, "", d.CreatedAt, body)
}

// documentPage is where the links Shifu sends (bots, notices) open: the
// cited version's original, at the page the link's fragment names (the
// browser keeps the fragment across the redirect).
func (s *Server) documentPage(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	u := fmt.Sprintf("/api/documents/%d/original", id)
	if v, err := strconv.Atoi(c.Query("v")); err == nil && v > 0 {
		u += "?v=" + strconv.Itoa(v)
	}
	c.Redirect(http.StatusFound, u)
}

// maxSpan bounds how many pages one image request may search for a quote.
const maxSpan = 5

// pageWidth snaps a requested width to one of the few that are rendered and
// cached, so widths cannot be varied to force renders.
func pageWidth(w int) int {
	for _, s := range []int{500, 1000, 1500} {
		if w <= s {
			return s
		}
	}
	return 2000
}

// renderSlot waits up to renderWait for one of the render slots (PDFium
// work costs seconds of CPU per uncached page); when all stay busy the
// caller is told to come back.
func (s *Server) renderSlot(c *gin.Context) error {
	t := time.NewTimer(renderWait)
	defer t.Stop()
	select {
	case s.renders <- struct{}{}:
		return nil
	case <-t.C:
		c.Header("Retry-After", "5")
		return shifu.Errorf(shifu.ErrUnavailable, "page images are busy; try again in a few seconds")
	case <-c.Request.Context().Done():
		return c.Request.Context().Err()
	}
}

const renderWait = 10 * time.Second

// pageImage renders one page of a PDF manual as PNG, for the citation view.
func (s *Server) pageImage(c *gin.Context) {
	if s.o.Renderer == nil || s.o.Ingester == nil {
		s.fail(c, shifu.Errorf(shifu.ErrUnavailable, "page images are not available on this server"))
		return
	}
	n, err := strconv.Atoi(strings.TrimSuffix(c.Param("page"), ".png"))
	if err != nil || n <= 0 {
		s.fail(c, shifu.Errorf(shifu.ErrInvalid, "page %q: want a page number such as 3.png", c.Param("page")))
		return
	}
	width := 1000
	if w, err := strconv.Atoi(c.Query("w")); err == nil {
		width = pageWidth(w)
	}
	quote := c.Query("q")
	if len(quote) > 500 {
		quote = quote[:500]
	}
	p := who(c)
	d, ok := s.citedVersion(c)
	if !ok {
		return
	}
	id := d.VersionID // the stored version: its original, and the cache key
	if d.MIME != "application/pdf" && !strings.HasPrefix(d.MIME, "image/") {
		s.fail(c, shifu.Errorf(shifu.ErrInvalid, "%s is not a PDF or an image, so it has no page images", d.Name))
		return
	}
	if d.Pages > 0 && n > d.Pages {
		s.fail(c, shifu.Errorf(shifu.ErrNotFound, "%s has %d pages, not %d", d.Name, d.Pages, n))
		return
	}
	// A passage can span pages: with ?to=M the quote is looked for on pages
	// n..M and the first page holding it is shown (X-Shifu-Page says which).
	to := n
	if v, err := strconv.Atoi(c.Query("to")); err == nil && v > n {
		to = min(v, n+maxSpan-1)
		if d.Pages > 0 {
			to = min(to, d.Pages)
		}
	}
	var pdf []byte
	held := false
	work := func() error { // a render slot and the decrypted PDF, once
		if !held {
			if err := s.renderSlot(c); err != nil {
				return err
			}
			held = true
		}
		if pdf == nil {
			var err error
			if pdf, err = s.o.Ingester.Original(c, p.tenant(), id); err != nil {
				return err
			}
		}
		return nil
	}
	defer func() {
		if held {
			<-s.renders
		}
	}()
	var rects []Rect
	shown := n
	f, canFind := s.o.Renderer.(TextFinder)
	for pg := n; quote != "" && pg <= to; pg++ {
		// A quote that cannot be found still leaves the first page. A page
		// read by OCR has no text layer: its stored words say where the
		// quote is.
		if r, err := s.ocrRects(c, p.tenant(), id, pg, quote); err != nil {
			s.fail(c, err)
			return
		} else if len(r) > 0 {
			shown, rects = pg, r
			break
		}
		if !canFind {
			continue
		}
		if err := work(); err != nil {
			s.fail(c, err)
			return
		}
		if r, err := f.FindRects(c, pdf, pg, quote); err == nil && len(r) > 0 {
			shown, rects = pg, r
			break
		}
	}
	key := pageKey{tenant: p.tenant(), doc: id, sha: d.SHA256, page: shown, width: width}
	png, _, ok := s.pages.get(key)
	if !ok {
		if err := work(); err != nil {
			s.fail(c, err)
			return
		}
		if png, err = s.o.Renderer.RenderPage(c, pdf, shown, width); err != nil {
			s.fail(c, err)
			return
		}
		s.pages.put(key, png, shown)
	}
	if len(rects) > 0 {
		if hl, err := highlightPNG(png, rects); err == nil {
			png = hl // a new image: the cached one stays plain
		}
	}
	c.Header("X-Shifu-Page", strconv.Itoa(shown))
	c.Header("Cache-Control", "private, max-age=3600")
	c.Data(http.StatusOK, "image/png", png)
}

// ocrRects finds a quote among the words OCR read on a page; none for a page
// with a text layer.
func (s *Server) ocrRects(c *gin.Context, tenant, doc int64, page int, quote string) ([]Rect, error) {
	pt, ok, err := s.o.DB.PageText(c, tenant, doc, page)
	if err != nil || !ok {
		return nil, err
	}
	var out []Rect
	for _, b := range pt.Find(quote) {
		out = append(out, Rect{X: b.X, Y: b.Y, W: b.W, H: b.H})
	}
	return out, nil
}

// fileResult is what happened to one file of an upload.
type fileResult struct {
	Name      string          `json:"name"`
	OK        bool            `json:"ok"`
	Duplicate bool            `json:"duplicate,omitempty"`
	Status    int             `json:"status"`
	Error     string          `json:"error,omitempty"`
	Document  *shifu.Document `json:"document,omitempty"`
}

// upload takes one or more "file" parts. Each file is handled on its own, so
// one bad file does not stop the rest of a batch; the answer lists a result
// per file. Fields "kind", "revision" and "title" apply to the files after them.
func (s *Server) upload(c *gin.Context) {
	s.uploadFiles(c, 0)
}

// revision uploads the next version of an existing document, under the
// file's own name; it goes live once ready. A file that looks like a
// different manual is refused (409) unless the request says confirm=1.
func (s *Server) revision(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	if _, err := s.o.DB.Document(c, who(c).tenant(), id); err != nil {
		s.fail(c, err)
		return
	}
	s.uploadFiles(c, id)
}

func (s *Server) uploadFiles(c *gin.Context, of int64) {
	if s.o.Ingester == nil {
		s.fail(c, shifu.Errorf(shifu.ErrUnavailable, "uploads are not available on this server"))
		return
	}
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt != "multipart/form-data" {
		c.AbortWithStatusJSON(http.StatusUnsupportedMediaType, errBody{Error: "send files as multipart/form-data with one or more \"file\" parts"})
		return
	}
	p := who(c)
	if c.Request.ContentLength > s.o.MaxBatchBytes {
		// Known too large before reading: refuse without storing any file.
		s.metrics.uploads.WithLabelValues("too_large").Inc()
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, errBody{Error: fmt.Sprintf(
			"the upload is over the limit of %d MB per request; send fewer files at a time", s.o.MaxBatchBytes>>20)})
		return
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, s.o.MaxBatchBytes)
	c.Request.Body = body
	mr, err := c.Request.MultipartReader()
	if err != nil {
		s.fail(c, shifu.Errorf(shifu.ErrInvalid, "the upload is not valid multipart/form-data"))
		return
	}
	kind, revision, title, confirm := shifu.KindManual, c.Query("revision"), "", c.Query("confirm") != ""
	if k := c.Query("kind"); k != "" {
		kind = shifu.DocKind(k)
	}
	var results []fileResult
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.metrics.uploads.WithLabelValues("too_large").Inc()
				c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": fmt.Sprintf(
					"the upload is over the limit of %d MB per request; send fewer files at a time", s.o.MaxBatchBytes>>20), "files": results})
				return
			}
			s.fail(c, shifu.Errorf(shifu.ErrInvalid, "the upload is not valid multipart/form-data"))
			return
		}
		switch part.FormName() {
		case "kind", "revision", "title", "confirm":
			v, _ := io.ReadAll(io.LimitReader(part, 1024))
			switch part.FormName() {
			case "kind":
				kind = shifu.DocKind(strings.TrimSpace(string(v)))
			case "revision":
				revision = strings.TrimSpace(string(v))
			case "title":
				title = strings.TrimSpace(string(v))
			case "confirm":
				confirm = strings.TrimSpace(string(v)) != ""
			}
		case "file":
			r := s.uploadOne(c, p, part, of, confirm, kind, revision, title)
			if r.Status == http.StatusRequestEntityTooLarge && r.Error == "" {
				return // the whole request was over the limit; already answered
			}
			results = append(results, r)
		}
		part.Close()
	}
	if len(results) == 0 {
		s.fail(c, shifu.Errorf(shifu.ErrInvalid, "no file in the upload: send one or more parts named \"file\""))
		return
	}
	code := http.StatusOK
	if !anyOK(results) {
		code = results[0].Status // all failed: the first reason is the request's
	}
	c.JSON(code, gin.H{"files": results})
}

func anyOK(rs []fileResult) bool {
	for _, r := range rs {
		if r.OK {
			return true
		}
	}
	return false
}

func (s *Server) uploadOne(c *gin.Context, p *principal, part *multipart.Part, of int64, confirm bool, kind shifu.DocKind, revision, title string) fileResult {
	name := filepath.Base(strings.ReplaceAll(part.FileName(), "\\", "/"))
	res := fileResult{Name: name}
	// The part streams into the pipeline (it spools, hashes and sniffs as
	// it reads), refused as soon as it passes the limit; the next NextPart
	// skips what is left of it.
	body := &capped{r: part, left: s.o.MaxUploadBytes, err: shifu.Errorf(shifu.ErrTooLarge,
		"%s: the file is over the upload limit of %d MB", name, s.o.MaxUploadBytes>>20)}
	doc, dup, err := s.o.Ingester.Add(c, p.tenant(), shifu.Upload{Name: name, Body: body, Kind: kind, Title: title,
		Revision: revision, UserID: p.User.ID, UserName: displayName(p.User), Of: of, Confirm: confirm})
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		s.metrics.uploads.WithLabelValues("too_large").Inc()
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, errBody{Error: fmt.Sprintf(
			"the upload is over the limit of %d MB per request; send fewer files at a time", s.o.MaxBatchBytes>>20)})
		return fileResult{Status: http.StatusRequestEntityTooLarge}
	}
	if errors.Is(err, shifu.ErrTooLarge) {
		s.metrics.uploads.WithLabelValues("too_large").Inc()
		res.Status, res.Error = http.StatusRequestEntityTooLarge, shifu.Message(err)
		return res
	}
	if err != nil {
		res.Status, res.Error = status(err), shifu.Message(err)
		if res.Status >= 500 {
			s.log.Error("upload", "file", name, "err", err)
		}
		s.metrics.uploads.WithLabelValues("refused").Inc()
		return res
	}
	s.metrics.uploads.WithLabelValues("stored").Inc()
	res.OK, res.Duplicate, res.Status, res.Document = true, dup, http.StatusCreated, &doc
	if dup {
		res.Status = http.StatusOK
	}
	return res
}

// capped reads at most left bytes of r, then fails with err if r holds more.
type capped struct {
	r    io.Reader
	left int64
	err  error
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, c.err
		}
		return 0, err
	}
	p = p[:min(int64(len(p)), c.left)]
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func displayName(u shifu.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Login
}

type noteRequest struct {
	Title     string `json:"title"`
	Equipment string `json:"equipment"`
	Symptom   string `json:"symptom"`
	Cause     string `json:"cause"`
	Fix       string `json:"fix"`
}

func (s *Server) addNote(c *gin.Context) {
	var req noteRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	d, ok := s.storeNote(c, req)
	if ok {
		c.JSON(http.StatusCreated, d)
	}
}

func (s *Server) storeNote(c *gin.Context, req noteRequest) (shifu.Document, bool) {
	if s.o.Ingester == nil {
		s.fail(c, shifu.Errorf(shifu.ErrUnavailable, "notes are not available on this server"))
		return shifu.Document{}, false
	}
	for _, f := range []string{req.Title, req.Equipment, req.Symptom, req.Cause, req.Fix} {
		if len([]rune(f)) > 5000 {
			s.fail(c, shifu.Errorf(shifu.ErrInvalid, "a note field is too long: at most 5000 characters each"))
			return shifu.Document{}, false
		}
	}
	p := who(c)
	n := shifu.Note{Title: strings.TrimSpace(req.Title), Equipment: strings.TrimSpace(req.Equipment),
		Symptom: strings.TrimSpace(req.Symptom), Cause: strings.TrimSpace(req.Cause), Fix: strings.TrimSpace(req.Fix),
		Author: displayName(p.User)}
	d, _, err := s.o.Ingester.AddNote(c, p.tenant(), n, p.User.ID)
	if err != nil {
		s.fail(c, err)
		return d, false
	}
	return d, true
}
