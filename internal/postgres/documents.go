package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/shifu-factory/shifu"
)

// EmbedDim is the width of the vector column; shorter vectors are zero-padded,
// which leaves cosine distances unchanged.
const EmbedDim = 1024

const docColumns = `d.id, d.tenant_id, d.name, d.title, d.kind, d.sha256, d.size, d.mime, d.version,
	d.status, d.error, d.progress, d.pages, d.chunks, d.language, d.revision, d.uploader, d.equipment,
	d.created_at, d.updated_at`

func scanDoc(row pgx.Row) (shifu.Document, error) {
	var d shifu.Document
	var progress []byte
	err := row.Scan(&d.ID, &d.TenantID, &d.Name, &d.Title, &d.Kind, &d.SHA256, &d.Size, &d.MIME, &d.Version,
		&d.Status, &d.Error, &progress, &d.Pages, &d.Chunks, &d.Language, &d.Revision, &d.UploadedBy, &d.Equipment,
		&d.CreatedAt, &d.UpdatedAt)
	if err != nil {
		return d, err
	}
	_ = json.Unmarshal(progress, &d.Progress)
	return d, nil
}

// NewDocument is what an upload stores before ingest starts.
type NewDocument struct {
	Doc      shifu.Document // Name, Title, Kind, SHA256, Size, MIME, Revision, UploadedBy, Equipment
	Uploader int64          // user id, 0 for none (CLI)
	// Seal encrypts the original bytes once the document's id is known (the id
	// is bound into the ciphertext).
	Seal func(docID int64) ([]byte, error)
	// Enqueue schedules ingest inside the same transaction, so a document is
	// never stored without its job, nor a job without its document.
	Enqueue func(ctx context.Context, tx pgx.Tx, docID int64) error
}

// CreateDocument stores an upload and its sealed original and schedules its
// ingest, all in one transaction. The same bytes uploaded again return the
// document already stored and change nothing (dup is true), unless its ingest
// had failed: then it is queued again. A file whose name matches a live
// document becomes its next version and replaces it once ready.
func (db *DB) CreateDocument(ctx context.Context, tenant int64, n NewDocument) (doc shifu.Document, dup bool, err error) {
	err = db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		// Serialise uploads of the same name, so two revisions racing each
		// other get distinct versions.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", int32(tenant), n.Doc.Name); err != nil {
			return err
		}
		existing, err := scanDoc(tx.QueryRow(ctx, `SELECT `+docColumns+` FROM documents d WHERE d.sha256 = $1`, n.Doc.SHA256))
		switch {
		case err == nil && existing.Status == shifu.StatusFailed:
			if _, err := tx.Exec(ctx, `UPDATE documents SET status = 'queued', error = '', progress = '{}', updated_at = now() WHERE id = $1`, existing.ID); err != nil {
				return err
			}
			existing.Status, existing.Error, existing.Progress = shifu.StatusQueued, "", shifu.Progress{}
			doc = existing
			return n.Enqueue(ctx, tx, existing.ID)
		case err == nil:
			doc, dup = existing, true
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}

		var replaces *int64
		var version int
		err = tx.QueryRow(ctx, `SELECT (SELECT id FROM documents WHERE name = $1 AND kind = $2 AND status = 'ready' ORDER BY version DESC LIMIT 1),
			coalesce((SELECT max(version) FROM documents WHERE name = $1 AND kind = $2), 0) + 1`,
			n.Doc.Name, n.Doc.Kind).Scan(&replaces, &version)
		if err != nil {
			return err
		}
		var uploader *int64
		if n.Uploader > 0 {
			uploader = &n.Uploader
		}
		doc, err = scanDoc(tx.QueryRow(ctx, `INSERT INTO documents AS d (name, title, kind, sha256, size, mime, version, revision,
				uploaded_by, uploader, equipment, replaces)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			RETURNING `+docColumns,
			n.Doc.Name, n.Doc.Title, n.Doc.Kind, n.Doc.SHA256, n.Doc.Size, n.Doc.MIME, version, n.Doc.Revision,
			uploader, n.Doc.UploadedBy, n.Doc.Equipment, replaces))
		if err != nil {
			return err
		}
		sealed, err := n.Seal(doc.ID)
		if err != nil {
			return fmt.Errorf("seal original: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO originals (document_id, sealed) VALUES ($1, $2)`, doc.ID, sealed); err != nil {
			return err
		}
		return n.Enqueue(ctx, tx, doc.ID)
	})
	if err != nil {
		return doc, false, fmt.Errorf("store document %s: %w", n.Doc.Name, classify(err))
	}
	return doc, dup, nil
}

// Document returns one document of the tenant.
func (db *DB) Document(ctx context.Context, tenant, id int64) (shifu.Document, error) {
	var d shifu.Document
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		d, err = scanDoc(tx.QueryRow(ctx, `SELECT `+docColumns+` FROM documents d WHERE d.id = $1`, id))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return d, shifu.Errorf(shifu.ErrNotFound, "document %d not found", id)
	}
	return d, err
}

// Documents lists the tenant's documents, newest first. Replaced revisions
// are gone; a revision still in ingest is listed beside the live one.
func (db *DB) Documents(ctx context.Context, tenant int64) ([]shifu.Document, error) {
	var docs []shifu.Document
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+docColumns+` FROM documents d ORDER BY d.created_at DESC, d.id DESC`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDoc(rows)
			if err != nil {
				return err
			}
			docs = append(docs, d)
		}
		return rows.Err()
	})
	return docs, err
}

// Original returns the sealed original bytes of a document.
func (db *DB) Original(ctx context.Context, tenant, id int64) ([]byte, error) {
	var sealed []byte
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT sealed FROM originals WHERE document_id = $1`, id).Scan(&sealed)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, shifu.Errorf(shifu.ErrNotFound, "document %d has no stored original", id)
	}
	return sealed, err
}

// DeleteDocument removes a document, its original and its chunks.
func (db *DB) DeleteDocument(ctx context.Context, tenant, id int64) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM documents WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return shifu.Errorf(shifu.ErrNotFound, "document %d not found", id)
		}
		return err
	})
}

// Requeue marks a document queued again and schedules its ingest (re-ingest).
func (db *DB) Requeue(ctx context.Context, tenant, id int64, enqueue func(ctx context.Context, tx pgx.Tx, docID int64) error) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE documents SET status = 'queued', error = '', progress = '{}', updated_at = now() WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return shifu.Errorf(shifu.ErrNotFound, "document %d not found", id)
		}
		return enqueue(ctx, tx, id)
	})
}

// Meta is what parsing learned about a document.
type Meta struct {
	Title    string
	Pages    int
	Language string
	Analyzer string           // the version of the analyzer that made the terms
	OCR      []shifu.PageText // pages read by OCR; replace the document's earlier ones
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

// ChunkRow is a chunk with its index terms (repeats count as term frequency).
type ChunkRow struct {
	shifu.Chunk
	Terms []string
}

// StoreChunks replaces the document's chunks and postings in one transaction,
// with no embeddings yet, and records what parsing learned. Running it again
// (a resumed job) leaves exactly one copy.
func (db *DB) StoreChunks(ctx context.Context, tenant, docID int64, meta Meta, rows []ChunkRow) error {
	n := len(rows)
	ords, starts, ends, tokens := make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	texts, headings, anchors, langs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range rows {
		ords[i], starts[i], ends[i], tokens[i] = int32(r.Ord), int32(r.PageStart), int32(r.PageEnd), int32(r.Tokens)
		texts[i], headings[i], anchors[i], langs[i] = r.Text, r.Heading, r.Anchor, r.Language
	}
	p := makePostings(rows)
	pOrd := make([]int32, len(p.row))
	for i, r := range p.row {
		pOrd[i] = ords[r]
	}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM chunks WHERE document_id = $1`, docID); err != nil {
			return err
		}
		// COPY is not allowed on tables with row-level security, so rows go in
		// as arrays unnested by one INSERT each.
		_, err := tx.Exec(ctx, `INSERT INTO chunks (document_id, ord, text, heading, page_start, page_end, anchor, language, tokens, nterms, tsv)
			SELECT $1, u.ord, u.text, u.heading, u.ps, u.pe, u.anchor, u.lang, u.tokens, u.nterms, array_to_tsvector(string_to_array(u.lex, ' '))
			FROM unnest($2::int[], $3::text[], $4::text[], $5::int[], $6::int[], $7::text[], $8::text[], $9::int[], $10::int[], $11::text[])
				AS u(ord, text, heading, ps, pe, anchor, lang, tokens, nterms, lex)`,
			docID, ords, texts, headings, starts, ends, anchors, langs, tokens, p.nterms, p.lexemes)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO chunk_terms (term, chunk_id, tf, document_id, ord, dl)
			SELECT p.term, c.id, p.tf, c.document_id, c.ord, c.nterms FROM unnest($2::text[], $3::int[], $4::int[]) AS p(term, ord, tf)
			JOIN chunks c ON c.document_id = $1 AND c.ord = p.ord`,
			docID, p.term, pOrd, p.tf)
		if err != nil {
			return err
		}
		if err := storePageTexts(ctx, tx, docID, meta.OCR); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE documents SET title = CASE WHEN title = '' THEN $2 ELSE title END, pages = $3, language = $4,
			chunks = $5, nterms = $6, analyzer = $7, updated_at = now() WHERE id = $1`, docID, meta.Title, meta.Pages, meta.Language, n, p.total, meta.Analyzer)
		return err
	})
	if err != nil {
		return fmt.Errorf("store chunks of document %d: %w", docID, classify(err))
	}
	return nil
}

// postings are a document's postings as arrays for unnest: posting i is
// term[i], occurring tf[i] times in chunk row[i] (an index into the rows).
type postings struct {
	term    []string
	row     []int
	tf      []int32
	nterms  []int32  // each chunk's length in terms
	lexemes []string // each chunk's distinct terms, for its tsvector
	total   int64    // the document's length in terms, for BM25's mean
}

func makePostings(rows []ChunkRow) postings {
	p := postings{nterms: make([]int32, len(rows)), lexemes: make([]string, len(rows))}
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
		p.lexemes[i] = tsLexemes(tf)
	}
	return p
}

// Stale returns the tenant's ready documents whose postings were made by an
// analyzer other than version, oldest first.
func (db *DB) Stale(ctx context.Context, tenant int64, version string) ([]int64, error) {
	var ids []int64
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM documents WHERE status = 'ready' AND analyzer <> $1 ORDER BY id`, version)
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
func (db *DB) Reterm(ctx context.Context, tenant, docID int64, version string, rows []ChunkRow) error {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	p := makePostings(rows)
	pID := make([]int64, len(p.row))
	for i, r := range p.row {
		pID[i] = ids[r]
	}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		// The chunks first: their row locks order this against a re-ingest
		// of the same document, which deletes them.
		tag, err := tx.Exec(ctx, `UPDATE chunks c SET nterms = u.nterms, tsv = array_to_tsvector(string_to_array(u.lex, ' '))
			FROM unnest($2::bigint[], $3::int[], $4::text[]) AS u(id, nterms, lex) WHERE c.id = u.id AND c.document_id = $1`,
			docID, ids, p.nterms, p.lexemes)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE document_id = $1`, docID).Scan(&n); err != nil {
			return err
		}
		if tag.RowsAffected() != int64(len(rows)) || n != len(rows) {
			return shifu.Errorf(shifu.ErrConflict, "document %d changed while it was re-indexed", docID)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM chunk_terms t USING chunks c WHERE c.document_id = $1 AND t.chunk_id = c.id`, docID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO chunk_terms (term, chunk_id, tf, document_id, ord, dl)
			SELECT p.term, c.id, p.tf, c.document_id, c.ord, c.nterms FROM unnest($2::text[], $3::bigint[], $4::int[]) AS p(term, id, tf)
			JOIN chunks c ON c.id = p.id AND c.document_id = $1`,
			docID, p.term, pID, p.tf)
		if err != nil {
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

// tsLexemes lists a chunk's distinct terms for its tsvector. Lexemes are
// already analysed in Go; spaces cannot occur in them.
func tsLexemes(tf map[string]int32) string {
	b := make([]byte, 0, 16*len(tf))
	for t := range tf {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, t...)
	}
	return string(b)
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

// Publish makes a fully embedded document live. In the same transaction the
// revision it replaces is removed, so readers see the old version or the new
// one, never both and never neither.
func (db *DB) Publish(ctx context.Context, tenant, docID int64) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		// A newer revision that finished first wins; this one is outdated.
		tag, err := tx.Exec(ctx, `DELETE FROM documents o USING documents n
			WHERE o.id = $1 AND n.name = o.name AND n.kind = o.kind AND n.version > o.version AND n.status = 'ready'`, docID)
		if err != nil || tag.RowsAffected() > 0 {
			return err
		}
		var replaces *int64
		err = tx.QueryRow(ctx, `UPDATE documents SET status = 'ready', error = '', updated_at = now(),
			chunks = (SELECT count(*) FROM chunks WHERE document_id = $1)
			WHERE id = $1 RETURNING replaces`, docID).Scan(&replaces)
		if err != nil {
			return err
		}
		// Older live revisions of the same name go too (covers a revision that
		// was uploaded while another was still ingesting).
		_, err = tx.Exec(ctx, `DELETE FROM documents o USING documents n
			WHERE n.id = $1 AND o.id <> n.id AND o.name = n.name AND o.kind = n.kind
			AND o.version < n.version AND (o.status = 'ready' OR o.id = $2)`, docID, replaces)
		return err
	})
}

// RefreshStats updates the planner's statistics of the search tables. Ingest
// calls it after publishing a large document, so searches right after it are
// planned on the new rows rather than on what autovacuum last saw.
func (db *DB) RefreshStats(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, "SELECT refresh_stats()")
	return err
}
