package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/keyring"
)

// spool is an upload streamed in: hashed and sniffed as it arrives and
// kept, sealed under a key that exists only in this process, in a temporary
// file that has no name (unlinked at once), so neither the plain bytes nor
// a leftover file outlive the upload, whatever ends it. Holding it costs a
// segment or two of memory, not the file.
type spool struct {
	f     *os.File
	key   *keyring.Key
	size  int64
	sum   [sha256.Size]byte
	sniff parse.Sniffer
}

const spoolContext = "spool"

// newSpool reads body to its end, refusing it as soon as it passes max
// bytes. On error nothing is left behind.
func newSpool(ctx context.Context, name string, body io.Reader, max int64) (_ *spool, err error) {
	f, err := os.CreateTemp("", "shifu-upload-*") // 0600
	if err != nil {
		return nil, fmt.Errorf("spool upload %s: %w", name, err)
	}
	sp := &spool{f: f, key: keyring.NewKey()}
	if rerr := os.Remove(f.Name()); rerr != nil {
		f.Close()
		return nil, fmt.Errorf("spool upload %s: %w", name, rerr)
	}
	defer func() {
		if err != nil {
			sp.close()
		}
	}()
	h := sha256.New()
	w := sp.key.NewWriter(spoolContext, func(sealed []byte) error {
		_, err := f.Write(sealed)
		return err
	})
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, rerr := body.Read(buf)
		if n > 0 {
			if sp.size += int64(n); sp.size > max {
				return nil, shifu.Errorf(shifu.ErrTooLarge, "%s: the file is over the upload limit of %d MB", name, max>>20)
			}
			h.Write(buf[:n])
			_, _ = sp.sniff.Write(buf[:n])
			if _, err := w.Write(buf[:n]); err != nil {
				return nil, fmt.Errorf("spool upload %s: %w", name, err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			var e *shifu.Error
			if errors.As(rerr, &e) {
				return nil, rerr // the reader's own limit, say: its message stands
			}
			return nil, fmt.Errorf("%w (%w)", shifu.Errorf(shifu.ErrInvalid, "%s: the file could not be read completely", name), rerr)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("spool upload %s: %w", name, err)
	}
	h.Sum(sp.sum[:0])
	return sp, nil
}

// stream reads the spooled bytes back (each call a reader of its own).
func (sp *spool) stream() *keyring.Stream {
	n := keyring.Segments(sp.size)
	buf := make([]byte, keyring.SegmentSize+keyring.SegmentOverhead)
	return sp.key.NewStream(spoolContext, sp.size, func(i int64) ([]byte, error) {
		l := int64(keyring.SegmentSize)
		if i == n-1 {
			l = sp.size - i*keyring.SegmentSize
		}
		b := buf[:l+keyring.SegmentOverhead]
		if _, err := sp.f.ReadAt(b, i*int64(keyring.SegmentSize+keyring.SegmentOverhead)); err != nil {
			return nil, fmt.Errorf("read spooled upload: %w", err)
		}
		return b, nil
	})
}

func (sp *spool) close() { sp.f.Close() }

// seal re-seals the spooled bytes under the tenant's key for the stored
// version, one segment at a time into put.
func (sp *spool) seal(key *keyring.Key, context string, put func([]byte) error) error {
	w := key.NewWriter(context, put)
	if _, err := io.Copy(w, sp.stream()); err != nil {
		return err
	}
	return w.Close()
}

// OpenOriginal streams the decrypted original of a stored version
// (Document.VersionID), segment by segment as it is read; Seek and ReadAt
// read only the segments asked for. Its first segment is checked before it
// returns, so a wrong key fails here rather than mid-way. An original
// stored whole (before segments) is opened whole.
func (s *Service) OpenOriginal(ctx context.Context, tenant, versionID int64) (io.ReadSeeker, error) {
	size, segments, whole, err := s.db.Original(ctx, tenant, versionID)
	if err != nil {
		return nil, err
	}
	key, err := s.keys.TenantKey(ctx, tenant)
	if err != nil {
		return nil, err
	}
	sc := sealContext(tenant, versionID)
	if segments == 0 {
		p, err := key.Open(whole, sc)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(p), nil
	}
	if want := keyring.Segments(size); segments != want {
		return nil, fmt.Errorf("stored version %d: its original has %d segments, %d for %d bytes: %w", versionID, segments, want, size, keyring.ErrKey)
	}
	st := key.NewStream(sc, size, func(i int64) ([]byte, error) {
		return s.db.OriginalSegment(ctx, tenant, versionID, i)
	})
	if _, err := st.ReadAt(make([]byte, 1), 0); err != nil && err != io.EOF {
		return nil, err
	}
	return st, nil
}

// Original returns the decrypted original bytes of a stored version whole,
// for the parsers that need the file at once (PDFium, zip): read into one
// buffer of its size, so a read costs the file once, not the several
// copies a whole sealed value took. Callers bound how many run at once
// (ingest workers, page-render slots).
func (s *Service) Original(ctx context.Context, tenant, versionID int64) ([]byte, error) {
	r, err := s.OpenOriginal(ctx, tenant, versionID)
	if err != nil {
		return nil, err
	}
	if b, ok := r.(*bytes.Reader); ok {
		out := make([]byte, b.Len())
		_, err := io.ReadFull(b, out)
		return out, err
	}
	st := r.(*keyring.Stream)
	out := make([]byte, st.Size())
	if _, err := io.ReadFull(st, out); err != nil {
		return nil, err
	}
	return out, nil
}
