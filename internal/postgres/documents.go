package postgres

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
	"golang.org/x/sync/errgroup"

	"github.com/shifu-factory/shifu"
)

// EmbedDim is the width of the vector column; shorter vectors are zero-padded,
// which leaves cosine distances unchanged.
const EmbedDim = 1024

// docColumns are what scanDoc reads: d is one version (a documents row), h
// its document (document_heads).
const docColumns = `d.head_id, d.id, d.tenant_id, d.name, d.title, d.kind, d.sha256, d.size, d.mime, d.version,
	d.status, d.error, d.progress, d.pages, d.chunks, d.language, d.revision, d.uploader, d.equipment,
	d.created_at, d.updated_at, coalesce(h.live = d.id, false), h.deleted_at`

const docFrom = ` FROM documents d JOIN document_heads h ON h.id = d.head_id`

func scanDoc(row pgx.Row) (shifu.Document, error) {
	var d shifu.Document
	var progress []byte
	var deleted *time.Time
	err := row.Scan(&d.ID, &d.VersionID, &d.TenantID, &d.Name, &d.Title, &d.Kind, &d.SHA256, &d.Size, &d.MIME, &d.Version,
		&d.Status, &d.Error, &progress, &d.Pages, &d.Chunks, &d.Language, &d.Revision, &d.UploadedBy, &d.Equipment,
		&d.CreatedAt, &d.UpdatedAt, &d.Live, &deleted)
	if err != nil {
		return d, err
	}
	if deleted != nil {
		d.DeletedAt = *deleted
	}
	_ = json.Unmarshal(progress, &d.Progress)
	return d, nil
}

// NewDocument is what an upload stores before ingest starts.
type NewDocument struct {
	Doc      shifu.Document // Name, Title, Kind, SHA256, Size, MIME, Revision, UploadedBy, Equipment
	Uploader int64          // user id, 0 for none (CLI)
	// Of is the document this upload is the next version of; 0: the
	// document of the same name and kind, or a new one.
	Of int64
	// Check, when set, may refuse the upload as the next version of prev
	// (the version it follows), inside the transaction.
	Check func(prev shifu.Document) error
	// Original seals the original bytes once the version's id is known (the
	// id is bound into the ciphertext), handing each sealed segment in turn
	// to put, which stores it in the same transaction.
	Original func(versionID int64, put func(sealed []byte) error) error
	// Jobs takes the version's ingest job, in the same transaction.
	Jobs JobQueue
}

// CreateDocument stores an upload as the next version of a document (a new
// document when none matches), with its sealed original and its ingest job,
// all in one transaction. The same bytes uploaded again return the version
// already stored and change nothing (dup is true), unless its ingest had
// failed or its job was lost: then it is queued again. The document's live
// version stays live until the new one is ready. Every upload is audited in
// the same transaction, as its uploader's.
func (db *DB) CreateDocument(ctx context.Context, tenant int64, n NewDocument) (doc shifu.Document, dup bool, err error) {
	store := func(tx pgx.Tx) error {
		dup = false
		// Serialise uploads of the same name, so two revisions racing each
		// other get distinct versions.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", int32(tenant), n.Doc.Name); err != nil {
			return err
		}
		existing, err := scanDoc(tx.QueryRow(ctx, `SELECT `+docColumns+docFrom+` WHERE d.sha256 = $1`, n.Doc.SHA256))
		lost := false // in progress, but no job will ever finish it
		if err == nil && !existing.Status.Done() {
			alive, aerr := ingestAlive(ctx, tx, existing.VersionID)
			if aerr != nil {
				return aerr
			}
			lost = !alive
		}
		switch {
		case err == nil && (existing.Status == shifu.StatusFailed || lost):
			if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'queued', error = '', progress = '{}', updated_at = now() WHERE id = $1`, existing.VersionID); err != nil {
				return err
			}
			existing.Status, existing.Error, existing.Progress = shifu.StatusQueued, "", shifu.Progress{}
			doc = existing
			return insertIngest(ctx, tx, n.Jobs, tenant, existing.VersionID)
		case err == nil:
			doc, dup = existing, true
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}

		head := n.Of
		if head > 0 {
			var kind shifu.DocKind
			var deleted *time.Time
			err := tx.QueryRow(ctx, `SELECT kind, deleted_at FROM document_heads WHERE id = $1 FOR UPDATE`, head).Scan(&kind, &deleted)
			if errors.Is(err, pgx.ErrNoRows) {
				return shifu.Errorf(shifu.ErrNotFound, "document %d not found", head)
			}
			if err != nil {
				return err
			}
			if deleted != nil {
				return shifu.Errorf(shifu.ErrConflict, "document %d is deleted: restore it before adding a revision", head)
			}
			if kind != n.Doc.Kind {
				return shifu.Errorf(shifu.ErrInvalid, "%s is a %s, document %d is a %s: a revision keeps the kind (upload it as a new document instead)",
					n.Doc.Name, n.Doc.Kind, head, kind)
			}
		} else {
			err := tx.QueryRow(ctx, `SELECT h.id FROM document_heads h JOIN documents d ON d.head_id = h.id
				WHERE d.name = $1 AND h.kind = $2 AND h.deleted_at IS NULL ORDER BY d.version DESC LIMIT 1 FOR UPDATE OF h`,
				n.Doc.Name, n.Doc.Kind).Scan(&head)
			if errors.Is(err, pgx.ErrNoRows) {
				err = tx.QueryRow(ctx, `INSERT INTO document_heads (kind) VALUES ($1) RETURNING id`, n.Doc.Kind).Scan(&head)
			}
			if err != nil {
				return err
			}
		}
		if n.Check != nil {
			prev, err := shownVersion(ctx, tx, head)
			switch {
			case err == nil:
				if err := n.Check(prev); err != nil {
					return err
				}
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		var uploader *int64
		if n.Uploader > 0 {
			uploader = &n.Uploader
		}
		var id int64
		err = tx.QueryRow(ctx, `INSERT INTO documents (head_id, name, title, kind, sha256, size, mime, version, revision,
				uploaded_by, uploader, equipment)
			VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT coalesce(max(version), 0) + 1 FROM documents WHERE head_id = $1), $8, $9, $10, $11)
			RETURNING id`,
			head, n.Doc.Name, n.Doc.Title, n.Doc.Kind, n.Doc.SHA256, n.Doc.Size, n.Doc.MIME, n.Doc.Revision,
			uploader, n.Doc.UploadedBy, n.Doc.Equipment).Scan(&id)
		if err != nil {
			return err
		}
		seq := 0
		err = n.Original(id, func(sealed []byte) error {
			_, err := tx.Exec(ctx, `INSERT INTO original_segments (document_id, seq, sealed) VALUES ($1, $2, $3)`, id, seq, sealed)
			seq++
			return err
		})
		if err != nil {
			return fmt.Errorf("store original: %w", err)
		}
		if doc, err = scanDoc(tx.QueryRow(ctx, `SELECT `+docColumns+docFrom+` WHERE d.id = $1`, id)); err != nil {
			return err
		}
		return insertIngest(ctx, tx, n.Jobs, tenant, id)
	}
	err = db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		if err := store(tx); err != nil {
			return err
		}
		return auditUpload(ctx, tx, n.Uploader, doc, dup)
	})
	if err != nil {
		return doc, false, fmt.Errorf("store document %s: %w", n.Doc.Name, classify(err))
	}
	return doc, dup, nil
}

// auditUpload records a stored upload (or the same bytes again, dup): a
// note as note.add, any other file as document.upload.
func auditUpload(ctx context.Context, tx pgx.Tx, userID int64, d shifu.Document, dup bool) error {
	if d.Kind == shifu.KindNote {
		return audit(ctx, tx, userID, "note.add", map[string]any{"id": d.ID, "title": d.Title})
	}
	return audit(ctx, tx, userID, "document.upload", map[string]any{"id": d.ID, "name": d.Name, "version": d.Version, "duplicate": dup})
}

// shownVersion is the version a document shows: its live one, else its
// newest (a first upload still in ingest, or failed).
func shownVersion(ctx context.Context, tx pgx.Tx, head int64) (shifu.Document, error) {
	return scanDoc(tx.QueryRow(ctx, `SELECT `+docColumns+docFrom+` WHERE h.id = $1
		ORDER BY coalesce(h.live = d.id, false) DESC, d.version DESC LIMIT 1`, head))
}

func versionsOf(ctx context.Context, tx pgx.Tx, heads []int64) (map[int64][]shifu.Version, error) {
	rows, err := tx.Query(ctx, `SELECT d.head_id, d.id, d.version, d.name, d.sha256, d.size, d.revision, d.uploader, d.status,
		coalesce(h.live = d.id, false), d.created_at`+docFrom+` WHERE d.head_id = ANY($1::bigint[]) ORDER BY d.head_id, d.version`, heads)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]shifu.Version{}
	for rows.Next() {
		var head int64
		var v shifu.Version
		if err := rows.Scan(&head, &v.ID, &v.Version, &v.Name, &v.SHA256, &v.Size, &v.Revision, &v.UploadedBy, &v.Status, &v.Live, &v.CreatedAt); err != nil {
			return nil, err
		}
		out[head] = append(out[head], v)
	}
	return out, rows.Err()
}

// Document returns one document of the tenant as its live version shows it
// (its newest when none is live yet), with every kept version. A deleted
// document is returned too, with DeletedAt set.
func (db *DB) Document(ctx context.Context, tenant, id int64) (shifu.Document, error) {
	return db.DocumentVersion(ctx, tenant, id, 0)
}

// DocumentVersion returns version n of a document (0: the version it
// shows), with every kept version.
func (db *DB) DocumentVersion(ctx context.Context, tenant, id int64, n int) (shifu.Document, error) {
	var d shifu.Document
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		if n == 0 {
			d, err = shownVersion(ctx, tx, id)
		} else {
			d, err = scanDoc(tx.QueryRow(ctx, `SELECT `+docColumns+docFrom+` WHERE h.id = $1 AND d.version = $2`, id, n))
		}
		if err != nil {
			return err
		}
		vs, err := versionsOf(ctx, tx, []int64{id})
		d.Versions = vs[id]
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		if n > 0 {
			return d, shifu.Errorf(shifu.ErrNotFound, "document %d has no version %d", id, n)
		}
		return d, shifu.Errorf(shifu.ErrNotFound, "document %d not found", id)
	}
	return d, err
}

// VersionRow returns the stored version with that id (what an ingest job
// names), as a Document.
func (db *DB) VersionRow(ctx context.Context, tenant, versionID int64) (shifu.Document, error) {
	var d shifu.Document
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		d, err = scanDoc(tx.QueryRow(ctx, `SELECT `+docColumns+docFrom+` WHERE d.id = $1`, versionID))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return d, shifu.Errorf(shifu.ErrNotFound, "stored version %d not found", versionID)
	}
	return d, err
}

// Documents lists the tenant's documents, newest first, each as its live
// version shows it, with every kept version. deleted picks the documents
// deleted and not yet purged instead of the others.
func (db *DB) Documents(ctx context.Context, tenant int64, deleted bool) ([]shifu.Document, error) {
	var docs []shifu.Document
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT ON (h.id) `+docColumns+docFrom+`
			WHERE (h.deleted_at IS NOT NULL) = $1
			ORDER BY h.id, coalesce(h.live = d.id, false) DESC, d.version DESC`, deleted)
		if err != nil {
			return err
		}
		docs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (shifu.Document, error) { return scanDoc(r) })
		if err != nil {
			return err
		}
		heads := make([]int64, len(docs))
		for i, d := range docs {
			heads[i] = d.ID
		}
		vs, err := versionsOf(ctx, tx, heads)
		for i := range docs {
			docs[i].Versions = vs[docs[i].ID]
		}
		return err
	})
	// Newest first: by when the document's latest version was uploaded.
	sort.SliceStable(docs, func(i, j int) bool { return latest(docs[i]).After(latest(docs[j])) })
	return docs, err
}

func latest(d shifu.Document) time.Time {
	t := d.CreatedAt
	for _, v := range d.Versions {
		if v.CreatedAt.After(t) {
			t = v.CreatedAt
		}
	}
	return t
}

// Original says how a stored version's original of size bytes is kept: in
// segments (how many; OriginalSegment reads each), or, stored before
// migration 012, sealed whole (whole is that value, segments 0).
func (db *DB) Original(ctx context.Context, tenant, versionID int64) (size, segments int64, whole []byte, err error) {
	err = db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT d.size, (SELECT count(*) FROM original_segments s WHERE s.document_id = d.id)
			FROM documents d WHERE d.id = $1`, versionID).Scan(&size, &segments)
		if err != nil || segments > 0 {
			return err
		}
		return tx.QueryRow(ctx, `SELECT sealed FROM originals WHERE document_id = $1`, versionID).Scan(&whole)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, nil, shifu.Errorf(shifu.ErrNotFound, "stored version %d has no original", versionID)
	}
	return size, segments, whole, err
}

// OriginalSegment returns sealed segment seq of a version's original. Each
// is its own short transaction, so a slow download holds no connection
// between segments (segments never change once their version is stored).
func (db *DB) OriginalSegment(ctx context.Context, tenant, versionID, seq int64) ([]byte, error) {
	var sealed []byte
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT sealed FROM original_segments WHERE document_id = $1 AND seq = $2`, versionID, seq).Scan(&sealed)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("stored version %d: segment %d of its original is missing", versionID, seq)
	}
	return sealed, err
}

// Requeue marks a stored version queued again and puts its ingest job into
// jobs in the same transaction (re-ingest), audited.
func (db *DB) Requeue(ctx context.Context, tenant, versionID int64, jobs JobQueue, by shifu.Actor) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var head int64
		err := tx.QueryRow(ctx, `UPDATE documents SET status = 'queued', error = '', progress = '{}', updated_at = now() WHERE id = $1
			RETURNING head_id`, versionID).Scan(&head)
		if errors.Is(err, pgx.ErrNoRows) {
			return shifu.Errorf(shifu.ErrNotFound, "stored version %d not found", versionID)
		}
		if err != nil {
			return err
		}
		if err := insertIngest(ctx, tx, jobs, tenant, versionID); err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "document.reingest", map[string]any{"id": head})
	})
}

// SetStatus moves a document along the pipeline and records its progress.
// errText is shown to users when status is failed, so it must be plain words.
func (db *DB) SetStatus(ctx context.Context, tenant, id int64, status shifu.Status, errText string, p shifu.Progress) error {
	pj, _ := json.Marshal(p)
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE documents SET status = $2, error = $3, progress = $4, updated_at = now() WHERE id = $1`,
			id, status, errText, pj)
		return err
	})
}

// SetProgress records progress without changing the status.
func (db *DB) SetProgress(ctx context.Context, tenant, id int64, p shifu.Progress) error {
	pj, _ := json.Marshal(p)
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE documents SET progress = $2, updated_at = now() WHERE id = $1`, id, pj)
		return err
	})
}

// StoreChunks replaces the document's chunks and postings, with the rows'
// embeddings where they have one (a local embedder's), and records what
// parsing learned. Running it again (a resumed job) leaves exactly one copy.
//
// Most rows go in one transaction, so a refused store changes nothing. Many
// rows with vectors go in over insertParts transactions at once: inserting
// each into the HNSW index is most of their cost (~2 ms a row), and one
// backend does it on one core. That is safe because the rows belong to a
// version in the pipeline, which no search reads until Publish: a failure
// part-way leaves rows of an unread version, and the next attempt's DELETE
// removes them first.
func (db *DB) StoreChunks(ctx context.Context, tenant, docID int64, meta shifu.DocMeta, rows []shifu.IndexedChunk) error {
	_, err := db.storeChunks(ctx, tenant, docID, meta, rows, nil)
	return err
}

// ReplaceChunks is StoreChunks for a version that may be live (ingest's
// figures pass): all in one transaction, so searches see its old chunks or
// its new ones, never neither, with prog recorded as its progress in the
// same transaction. It replaces nothing unless the version is ready or
// archived (replaced says whether it did): one queued again (re-ingest) is
// another pass's now.
func (db *DB) ReplaceChunks(ctx context.Context, tenant, docID int64, meta shifu.DocMeta, rows []shifu.IndexedChunk, prog shifu.Progress) (replaced bool, err error) {
	return db.storeChunks(ctx, tenant, docID, meta, rows, &prog)
}

// storeChunks is StoreChunks, and with prog ReplaceChunks; stored says
// whether it wrote the rows.
func (db *DB) storeChunks(ctx context.Context, tenant, docID int64, meta shifu.DocMeta, rows []shifu.IndexedChunk, prog *shifu.Progress) (stored bool, err error) {
	p := makePostings(rows)
	cols, err := chunkColumns(docID, meta, rows, p.nterms)
	if err != nil {
		return false, err
	}
	finish := func(tx pgx.Tx, ids []int64) error {
		if err := storePostings(ctx, tx, docID, p, ids, cols.ords); err != nil {
			return err
		}
		if err := storePageTexts(ctx, tx, docID, meta.OCR); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE documents SET title = CASE WHEN title = '' THEN $2 ELSE title END, pages = $3, language = $4,
			chunks = $5, nterms = $6, analyzer = $7, updated_at = now() WHERE id = $1`, docID, meta.Title, meta.Pages, meta.Language, len(rows), p.total, meta.Analyzer)
		return err
	}
	clear := func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1`, docID)
		return err
	}
	if parts := insertParts(rows); parts == 1 || prog != nil {
		err = db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
			if prog != nil {
				var st shifu.Status
				err := tx.QueryRow(ctx, `SELECT status FROM documents WHERE id = $1 FOR UPDATE`, docID).Scan(&st)
				if errors.Is(err, pgx.ErrNoRows) {
					return shifu.Errorf(shifu.ErrNotFound, "stored version %d not found", docID)
				}
				if err != nil {
					return err
				}
				if st != shifu.StatusReady && st != shifu.StatusArchived {
					return nil
				}
			}
			stored = true
			if err := clear(tx); err != nil {
				return err
			}
			ids, err := insertChunks(ctx, tx, docID, cols, 0, len(rows))
			if err != nil {
				return err
			}
			if err := finish(tx, ids); err != nil || prog == nil {
				return err
			}
			// The figures stage gains this transaction's time (now() is
			// its start), as Publish's does.
			pj, _ := json.Marshal(prog)
			_, err = tx.Exec(ctx, `UPDATE documents SET progress = jsonb_set($2::jsonb, '{stages,figures_ms}',
				to_jsonb(coalesce(($2::jsonb #>> '{stages,figures_ms}')::bigint, 0) + `+txMillis+`))
				WHERE id = $1`, docID, pj)
			return err
		})
	} else {
		err = db.storeParts(ctx, tenant, docID, cols, parts, clear, finish)
		stored = true
	}
	if err != nil {
		return false, fmt.Errorf("store chunks of document %d: %w", docID, classify(err))
	}
	return stored, nil
}

// txMillis is SQL for the milliseconds the transaction has run so far
// (now() is its start): a stage's time recorded in the stage's own tx.
const txMillis = `round(extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint`

// Vectors returns the vectors of model that a version's chunks hold, by
// chunk text: what ReplaceChunks's rows may keep rather than embed again.
func (db *DB) Vectors(ctx context.Context, tenant, docID int64, model string) (map[string][]float32, error) {
	out := map[string][]float32{}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT text, embedding::vector::real[] FROM chunks
			WHERE document_id = $1 AND embedding IS NOT NULL AND embed_model = $2`, docID, model)
		if err != nil {
			return err
		}
		var t string
		var v []float32
		_, err = pgx.ForEachRow(rows, []any{&t, &v}, func() error { out[t] = slices.Clone(v); return nil })
		return err
	})
	return out, err
}

// storeParts is StoreChunks over parts transactions at once (StoreChunks
// says when and why), after one that clears the old rows and before one
// that writes the postings.
func (db *DB) storeParts(ctx context.Context, tenant, docID int64, cols chunkCols, parts int,
	clear func(pgx.Tx) error, finish func(pgx.Tx, []int64) error) error {
	if err := db.InTenant(ctx, tenant, clear); err != nil {
		return err
	}
	n := len(cols.ords)
	ids := make([]int64, n)
	g, gctx := errgroup.WithContext(ctx)
	for k := range parts {
		from, to := k*n/parts, (k+1)*n/parts
		g.Go(func() error {
			return db.InTenant(gctx, tenant, func(tx pgx.Tx) error {
				got, err := insertChunks(gctx, tx, docID, cols, from, to)
				copy(ids[from:to], got) // each part its own range of ids
				return err
			})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error { return finish(tx, ids) })
}

// insertParts is how many transactions StoreChunks inserts rows over: one
// unless there are enough rows with vectors to share among the cores.
func insertParts(rows []shifu.IndexedChunk) int {
	if len(rows) < 2*minPartRows || rows[0].Embedding == nil {
		return 1
	}
	return max(1, min(Writers(), len(rows)/minPartRows))
}

// Writers is how many transactions writing vectors at once pay: each
// backend inserts its rows into the HNSW graph on one core (~2 ms a row),
// so one a core, up to maxParts.
func Writers() int { return min(runtime.GOMAXPROCS(0), maxParts) }

// minPartRows and maxParts bound the parallel insert: below ~250 rows a part
// the extra transactions cost more than they save, and more parts than the
// pool's spare connections would wait for them.
const (
	minPartRows = 250
	maxParts    = 4
)

// chunkCols are rows as columns for unnest, with the model of their vectors.
type chunkCols struct {
	ords, starts, ends, tokens      []int32
	nterms                          []int32 // each chunk's length in terms (postings.nterms)
	texts, headings, anchors, langs []string
	breaks                          []string
	vecs                            []*pgvector.HalfVector // nil: NULL, embedded later
	model                           string
}

func chunkColumns(docID int64, meta shifu.DocMeta, rows []shifu.IndexedChunk, nterms []int32) (chunkCols, error) {
	n := len(rows)
	c := chunkCols{nterms: nterms, model: meta.EmbedModel, ords: make([]int32, n), starts: make([]int32, n), ends: make([]int32, n), tokens: make([]int32, n),
		texts: make([]string, n), headings: make([]string, n), anchors: make([]string, n), langs: make([]string, n),
		breaks: make([]string, n), vecs: make([]*pgvector.HalfVector, n)}
	for i, r := range rows {
		c.ords[i], c.starts[i], c.ends[i], c.tokens[i] = int32(r.Ord), int32(r.PageStart), int32(r.PageEnd), int32(r.Tokens)
		c.texts[i], c.headings[i], c.anchors[i], c.langs[i] = r.Text, r.Heading, r.Anchor, r.Language
		c.breaks[i] = intArray(r.Breaks)
		if r.Embedding != nil {
			if meta.EmbedModel == "" {
				return c, fmt.Errorf("store chunks of document %d: chunk %d has an embedding of no model", docID, r.Ord)
			}
			v := pgvector.NewHalfVector(Pad(r.Embedding))
			c.vecs[i] = &v
		}
	}
	return c, nil
}

// insertChunks inserts rows from..to of c and returns their ids in order.
// COPY is not allowed on tables with row-level security, so rows go in as
// arrays unnested by one INSERT; each chunk's page breaks as an array
// literal, since unnest flattens an array of arrays.
func insertChunks(ctx context.Context, tx pgx.Tx, docID int64, c chunkCols, from, to int) ([]int64, error) {
	got, err := tx.Query(ctx, `INSERT INTO chunks (document_id, ord, text, heading, page_start, page_end, anchor, language, tokens, nterms, page_breaks, embedding, embed_model)
		SELECT $1, u.ord, u.text, u.heading, u.ps, u.pe, u.anchor, u.lang, u.tokens, u.nterms, u.breaks::int[],
			u.e, CASE WHEN u.e IS NULL THEN '' ELSE $13 END
		FROM unnest($2::int[], $3::text[], $4::text[], $5::int[], $6::int[], $7::text[], $8::text[], $9::int[], $10::int[], $11::text[], $12::halfvec[])
			AS u(ord, text, heading, ps, pe, anchor, lang, tokens, nterms, breaks, e)
		RETURNING id, ord`,
		docID, c.ords[from:to], c.texts[from:to], c.headings[from:to], c.starts[from:to], c.ends[from:to], c.anchors[from:to],
		c.langs[from:to], c.tokens[from:to], c.nterms[from:to], c.breaks[from:to], vecArg(c.vecs[from:to]), c.model)
	if err != nil {
		return nil, err
	}
	at := make(map[int32]int64, to-from)
	var id int64
	var ord int32
	if _, err := pgx.ForEachRow(got, []any{&id, &ord}, func() error { at[ord] = id; return nil }); err != nil {
		return nil, err
	}
	ids := make([]int64, to-from)
	for i, o := range c.ords[from:to] {
		ids[i] = at[o]
	}
	return ids, nil
}

// vecArg is vecs as a halfvec[] parameter: values when none is NULL, which
// pgx sends in pgvector's binary form; else pointers, which it can only send
// as text (it encodes any driver.Valuer by its Value). As text, a 1,335-page
// manual's vectors cost ~0.6 s of client CPU to format, and the server as
// much again to parse.
func vecArg(vecs []*pgvector.HalfVector) any {
	vs := make([]pgvector.HalfVector, len(vecs))
	for i, v := range vecs {
		if v == nil {
			return vecs
		}
		vs[i] = *v
	}
	return vs
}

// storePostings writes a document's postings (p, of chunk rows with ids
// and ords), each term's packed into one posting_lists row, which search
// reads (migration 018 describes the format, decodePosting reads it). The
// lists are packed here: string_agg of a 1,335-page manual's 171k postings
// took 0.5 s in SQL.
func storePostings(ctx context.Context, tx pgx.Tx, docID int64, p postings, ids []int64, ords []int32) error {
	pID, pOrd, pDL := make([]int64, len(p.row)), make([]int32, len(p.row)), make([]int32, len(p.row))
	byTerm := map[string][]int{}
	var terms []string
	for i, r := range p.row {
		pID[i], pOrd[i], pDL[i] = ids[r], ords[r], p.nterms[r]
		if byTerm[p.term[i]] == nil {
			terms = append(terms, p.term[i])
		}
		byTerm[p.term[i]] = append(byTerm[p.term[i]], i)
	}
	ns, lists := make([]int32, len(terms)), make([][]byte, len(terms))
	for j, t := range terms {
		at := byTerm[t]
		slices.SortFunc(at, func(a, b int) int { return cmp.Compare(pOrd[a], pOrd[b]) })
		b := make([]byte, 0, len(at)*postingSize)
		for _, i := range at {
			b = binary.BigEndian.AppendUint64(b, uint64(pID[i]))
			b = binary.BigEndian.AppendUint32(b, uint32(pOrd[i]))
			b = binary.BigEndian.AppendUint32(b, uint32(p.tf[i]))
			b = binary.BigEndian.AppendUint32(b, uint32(pDL[i]))
		}
		ns[j], lists[j] = int32(len(at)), b
	}
	_, err := tx.Exec(ctx, `INSERT INTO posting_lists (term, document_id, n, list)
		SELECT u.term, $1, u.n, u.list FROM unnest($2::text[], $3::int[], $4::bytea[]) AS u(term, n, list)`, docID, terms, ns, lists)
	return err
}

// intArray is xs as a PostgreSQL array literal, "{12,40}".
func intArray(xs []int) string {
	b := make([]byte, 0, 2+8*len(xs))
	b = append(b, '{')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return string(append(b, '}'))
}

// postings are a document's postings as arrays for unnest: posting i is
// term[i], occurring tf[i] times in chunk row[i] (an index into the rows).
type postings struct {
	term   []string
	row    []int
	tf     []int32
	nterms []int32 // each chunk's length in terms
	total  int64   // the document's length in terms, for BM25's mean
}

func makePostings(rows []shifu.IndexedChunk) postings {
	p := postings{nterms: make([]int32, len(rows))}
	for i, r := range rows {
		p.nterms[i] = int32(len(r.Terms))
		p.total += int64(len(r.Terms))
		tf := map[string]int32{}
		for _, t := range r.Terms {
			tf[t]++
		}
		for t, c := range tf {
			p.term, p.row, p.tf = append(p.term, t), append(p.row, i), append(p.tf, c)
		}
	}
	return p
}

// Stale returns the tenant's ingested versions (live or kept, so a rollback
// finds current postings) whose postings were made by an analyzer other than
// version, oldest first.
func (db *DB) Stale(ctx context.Context, tenant int64, version string) ([]int64, error) {
	var ids []int64
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM documents WHERE status IN ('ready', 'archived') AND analyzer <> $1 ORDER BY id`, version)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("stale documents: %w", err)
	}
	return ids, nil
}

// ChunkTexts returns a document's chunks with their id, position and text,
// in order: what its postings are made from.
func (db *DB) ChunkTexts(ctx context.Context, tenant, docID int64) ([]shifu.Chunk, error) {
	var out []shifu.Chunk
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, document_id, ord, text FROM chunks WHERE document_id = $1 ORDER BY ord`, docID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (shifu.Chunk, error) {
			var c shifu.Chunk
			return c, r.Scan(&c.ID, &c.DocumentID, &c.Ord, &c.Text)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("chunks of document %d: %w", docID, err)
	}
	return out, nil
}

// Reterm replaces the postings of a document's chunks, matched by chunk ID,
// with rows' terms, and records the analyzer version, in one transaction:
// searches see the old postings or the new, never a mix. Chunks and their
// embeddings stay. When the document's chunks are no longer exactly rows'
// (it was re-ingested meanwhile), nothing changes and the error is
// shifu.ErrConflict.
func (db *DB) Reterm(ctx context.Context, tenant, docID int64, version string, rows []shifu.IndexedChunk) error {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	p := makePostings(rows)
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		// The chunks first: their row locks order this against a re-ingest
		// of the same document, which deletes them.
		got, err := tx.Query(ctx, `UPDATE chunks c SET nterms = u.nterms
			FROM unnest($2::bigint[], $3::int[]) AS u(id, nterms) WHERE c.id = u.id AND c.document_id = $1
			RETURNING c.id, c.ord`,
			docID, ids, p.nterms)
		if err != nil {
			return err
		}
		at := make(map[int64]int32, len(rows))
		var id int64
		var ord int32
		if _, err := pgx.ForEachRow(got, []any{&id, &ord}, func() error { at[id] = ord; return nil }); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE document_id = $1`, docID).Scan(&n); err != nil {
			return err
		}
		if len(at) != len(rows) || n != len(rows) {
			return shifu.Errorf(shifu.ErrConflict, "document %d changed while it was re-indexed", docID)
		}
		ords := make([]int32, len(rows))
		for i, id := range ids {
			ords[i] = at[id]
		}
		if _, err := tx.Exec(ctx, `DELETE FROM posting_lists WHERE document_id = $1`, docID); err != nil {
			return err
		}
		if err := storePostings(ctx, tx, docID, p, ids, ords); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE documents SET nterms = $2, analyzer = $3 WHERE id = $1`, docID, p.total, version)
		return err
	})
	if err != nil {
		return fmt.Errorf("re-index document %d: %w", docID, classify(err))
	}
	return nil
}

// Unembedded returns the document's chunks that have no vector from model yet,
// in order: what a fresh or resumed job still has to embed.
func (db *DB) Unembedded(ctx context.Context, tenant, docID int64, model string) (ids []int64, texts []string, err error) {
	err = db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, text FROM chunks WHERE document_id = $1 AND (embedding IS NULL OR embed_model <> $2) ORDER BY ord`, docID, model)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var t string
			if err := rows.Scan(&id, &t); err != nil {
				return err
			}
			ids, texts = append(ids, id), append(texts, t)
		}
		return rows.Err()
	})
	return ids, texts, err
}

// StoreEmbeddings saves vectors for chunks, zero-padded to EmbedDim.
func (db *DB) StoreEmbeddings(ctx context.Context, tenant int64, model string, ids []int64, vecs [][]float32) error {
	if len(ids) != len(vecs) {
		return fmt.Errorf("store embeddings: %d ids, %d vectors", len(ids), len(vecs))
	}
	hv := make([]pgvector.HalfVector, len(vecs))
	for i, v := range vecs {
		hv[i] = pgvector.NewHalfVector(Pad(v))
	}
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE chunks c SET embedding = u.e, embed_model = $3
			FROM unnest($1::bigint[], $2::halfvec[]) AS u(id, e) WHERE c.id = u.id`, ids, hv, model)
		return err
	})
}

// Pad widens v to EmbedDim with zeros.
func Pad(v []float32) []float32 {
	if len(v) >= EmbedDim {
		return v[:EmbedDim]
	}
	p := make([]float32, EmbedDim)
	copy(p, v)
	return p
}

// Publish marks a fully embedded version ingested and, unless a newer
// version of its document is already live, makes it the live one: in one
// transaction the version that was live is archived, so readers see the old
// version or the new one, never both and never neither. A version of a
// deleted document is archived, to go live if the document is restored.
func (db *DB) Publish(ctx context.Context, tenant, versionID int64) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var head int64
		var version, liveVersion int
		var deleted bool
		err := tx.QueryRow(ctx, `SELECT d.head_id, d.version, h.deleted_at IS NOT NULL,
				coalesce((SELECT l.version FROM documents l WHERE l.id = h.live AND l.id <> d.id), 0)
			FROM documents d JOIN document_heads h ON h.id = d.head_id WHERE d.id = $1 FOR UPDATE OF h`, versionID).
			Scan(&head, &version, &deleted, &liveVersion)
		if errors.Is(err, pgx.ErrNoRows) {
			return shifu.Errorf(shifu.ErrNotFound, "stored version %d not found", versionID)
		}
		if err != nil {
			return err
		}
		status := shifu.StatusArchived
		// A newer version that finished first (or was rolled back to) stays live.
		if version > liveVersion {
			if err := makeLive(ctx, tx, head, versionID, !deleted); err != nil {
				return err
			}
			if !deleted {
				status = shifu.StatusReady
			}
		}
		// The progress's stages gain this transaction's time so far
		// (now() is its start), so whoever sees the version ready sees it.
		_, err = tx.Exec(ctx, `UPDATE documents SET status = $2, error = '', updated_at = now(),
			chunks = (SELECT count(*) FROM chunks WHERE document_id = $1),
			progress = jsonb_set(progress, '{stages}', coalesce(progress->'stages', '{}') ||
				jsonb_build_object('publish_ms', greatest(1, `+txMillis+`)))
			WHERE id = $1`, versionID, status)
		return err
	})
}

// makeLive points a document at versionID, archiving the version searched
// so far; searched says whether versionID is searched from now on (not when
// the document is deleted).
func makeLive(ctx context.Context, tx pgx.Tx, head, versionID int64, searched bool) error {
	if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'archived', updated_at = now()
		WHERE head_id = $1 AND id <> $2 AND status = 'ready'`, head, versionID); err != nil {
		return err
	}
	if searched {
		if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'ready', updated_at = now() WHERE id = $1`, versionID); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `UPDATE document_heads SET live = $2 WHERE id = $1`, head, versionID)
	return err
}

// lockHead locks a document for a change of its live version or its
// deletion, and says whether it is deleted.
func lockHead(ctx context.Context, tx pgx.Tx, id int64) (deleted bool, err error) {
	err = tx.QueryRow(ctx, `SELECT deleted_at IS NOT NULL FROM document_heads WHERE id = $1 FOR UPDATE`, id).Scan(&deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, shifu.Errorf(shifu.ErrNotFound, "document %d not found", id)
	}
	return deleted, err
}

// Revert makes version n of a document live again, atomically as Publish
// does, and audits it. Only a version that was ingested can go live.
func (db *DB) Revert(ctx context.Context, tenant, id int64, n int, by shifu.Actor) (shifu.Document, error) {
	var d shifu.Document
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		deleted, err := lockHead(ctx, tx, id)
		if err != nil {
			return err
		}
		if deleted {
			return shifu.Errorf(shifu.ErrConflict, "document %d is deleted: restore it before rolling back", id)
		}
		var vid int64
		var status shifu.Status
		err = tx.QueryRow(ctx, `SELECT id, status FROM documents WHERE head_id = $1 AND version = $2`, id, n).Scan(&vid, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			var kept []int
			rows, qerr := tx.Query(ctx, `SELECT version FROM documents WHERE head_id = $1 ORDER BY version`, id)
			if qerr != nil {
				return qerr
			}
			if kept, qerr = pgx.CollectRows(rows, pgx.RowTo[int]); qerr != nil {
				return qerr
			}
			return shifu.Errorf(shifu.ErrNotFound, "document %d has no version %d; kept versions: %s", id, n, intList(kept))
		}
		if err != nil {
			return err
		}
		if status != shifu.StatusReady && status != shifu.StatusArchived {
			return shifu.Errorf(shifu.ErrConflict, "version %d of document %d is %s: only a version that was ingested can go live", n, id, status)
		}
		if err := makeLive(ctx, tx, id, vid, true); err != nil {
			return err
		}
		if d, err = scanDoc(tx.QueryRow(ctx, `SELECT `+docColumns+docFrom+` WHERE d.id = $1`, vid)); err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "document.revert", map[string]any{"id": id, "name": d.Name, "version": d.Version})
	})
	if err != nil {
		return d, fmt.Errorf("roll back document %d: %w", id, classify(err))
	}
	return d, nil
}

func intList(xs []int) string {
	if len(xs) == 0 {
		return "none"
	}
	b := make([]byte, 0, 4*len(xs))
	for i, x := range xs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "%d", x)
	}
	return string(b)
}

// DeleteDocument deletes a document softly: at once no search finds it, and
// Restore brings it back until Purge removes it for good. The deletion is
// audited with the version it showed.
func (db *DB) DeleteDocument(ctx context.Context, tenant, id int64, by shifu.Actor) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		deleted, err := lockHead(ctx, tx, id)
		if err != nil || deleted {
			return err
		}
		shown, err := shownVersion(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE document_heads SET deleted_at = now(), deleted_by = $2 WHERE id = $1`, id, by.Name); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `UPDATE documents SET status = 'archived', updated_at = now() WHERE head_id = $1 AND status = 'ready'`, id); err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "document.delete", map[string]any{"id": id, "name": shown.Name, "version": shown.Version})
	})
}

// Restore brings a deleted document back, its live version searched again,
// audited.
func (db *DB) Restore(ctx context.Context, tenant, id int64, by shifu.Actor) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		deleted, err := lockHead(ctx, tx, id)
		if err != nil {
			return err
		}
		if !deleted {
			return shifu.Errorf(shifu.ErrConflict, "document %d is not deleted", id)
		}
		if _, err := tx.Exec(ctx, `UPDATE document_heads SET deleted_at = NULL, deleted_by = '' WHERE id = $1`, id); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `UPDATE documents d SET status = 'ready', updated_at = now() FROM document_heads h
			WHERE h.id = $1 AND d.id = h.live AND d.status = 'archived'`, id); err != nil {
			return err
		}
		shown, err := shownVersion(ctx, tx, id)
		if err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "document.restore", map[string]any{"id": id, "name": shown.Name, "version": shown.Version})
	})
}

// Purged is what one Purge removed.
type Purged struct {
	Documents []int64 // deleted documents removed for good
	Versions  int     // old versions removed from documents that stay
}

// Purge removes for good, with their originals, chunks, postings and
// embeddings, the documents deleted before deletedBefore and the versions
// that stopped being live before versionsBefore (zero: keep every version).
// A live version is never purged. Each removal is audited in the same
// transaction.
func (db *DB) Purge(ctx context.Context, tenant int64, deletedBefore, versionsBefore time.Time) (Purged, error) {
	var p Purged
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH gone AS (
				DELETE FROM document_heads h WHERE h.deleted_at < $1
				RETURNING h.id, h.deleted_at, h.deleted_by,
					(SELECT d.name FROM documents d WHERE d.head_id = h.id ORDER BY d.version DESC LIMIT 1) AS name)
			INSERT INTO audit (action, detail)
			SELECT 'document.purge', jsonb_build_object('id', id, 'name', name, 'deleted_at', deleted_at, 'deleted_by', deleted_by) FROM gone
			RETURNING (detail->>'id')::bigint`, deletedBefore)
		if err != nil {
			return err
		}
		if p.Documents, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return err
		}
		if versionsBefore.IsZero() {
			return nil
		}
		return tx.QueryRow(ctx, `WITH gone AS (
				DELETE FROM documents d USING document_heads h
				WHERE h.id = d.head_id AND h.live IS DISTINCT FROM d.id AND d.status IN ('archived', 'failed') AND d.updated_at < $1
				RETURNING d.head_id, d.version, d.name),
			logged AS (INSERT INTO audit (action, detail)
				SELECT 'version.purge', jsonb_build_object('id', head_id, 'version', version, 'name', name) FROM gone)
			SELECT count(*) FROM gone`, versionsBefore).Scan(&p.Versions)
	})
	if err != nil {
		return p, fmt.Errorf("purge: %w", err)
	}
	return p, nil
}

// RefreshStats updates the planner's statistics of the search tables. Ingest
// calls it after publishing a large document, so searches right after it are
// planned on the new rows rather than on what autovacuum last saw.
func (db *DB) RefreshStats(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, "SELECT refresh_stats()")
	return err
}
