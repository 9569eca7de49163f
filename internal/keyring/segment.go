package keyring

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// SegmentSize is the plain length of one sealed segment of a stream (the
// last may be shorter): an original is sealed, stored and read one segment
// at a time, so an upload or a download holds a segment or two in memory,
// not the file.
const SegmentSize = 1 << 20

// SegmentOverhead is what sealing adds to a segment: its nonce and tag.
const SegmentOverhead = 12 + 16

// segmentAD authenticates a segment's place: the stream's context (tenant
// and version, as for Seal), its index and whether it is the last, so
// segments cannot be reordered, dropped from the end, appended to, or moved
// to another stream. The fixed-length fields come first, so no context can
// be confused with another's; the "segment:" prefix keeps a segment apart
// from a value sealed whole with the same context.
func segmentAD(context string, index int64, last bool) []byte {
	ad := make([]byte, 0, 8+8+1+len(context))
	ad = append(ad, "segment:"...)
	ad = binary.BigEndian.AppendUint64(ad, uint64(index))
	if last {
		ad = append(ad, 1)
	} else {
		ad = append(ad, 0)
	}
	return append(ad, context...)
}

// SealSegment appends segment index of a stream, sealed, to dst.
func (k *Key) SealSegment(dst, plain []byte, context string, index int64, last bool) ([]byte, error) {
	if len(plain) > SegmentSize {
		return nil, fmt.Errorf("keyring: segment of %d bytes is over %d", len(plain), SegmentSize)
	}
	n := k.aead.NonceSize()
	start := len(dst)
	dst = append(dst, make([]byte, n)...)
	if _, err := rand.Read(dst[start:]); err != nil {
		return nil, err
	}
	return k.aead.Seal(dst, dst[start:start+n], plain, segmentAD(context, index, last)), nil
}

// OpenSegment appends the plain text of segment index to dst; it fails
// unless the segment was sealed with this key, context, index and last flag.
func (k *Key) OpenSegment(dst, sealed []byte, context string, index int64, last bool) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, fmt.Errorf("open segment %d of %s: too short: %w", index, context, ErrKey)
	}
	p, err := k.aead.Open(dst, sealed[:n], sealed[n:], segmentAD(context, index, last))
	if err != nil {
		return nil, fmt.Errorf("open segment %d of %s (tampered, out of place or under another key): %w", index, context, ErrKey)
	}
	return p, nil
}

// NewKey returns a random key that is never stored: what an upload is
// spooled under while it streams in, so its plain bytes never reach a disk.
func NewKey() *Key {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	aead, err := newAEAD(k)
	if err != nil {
		panic(err) // a 32-byte key always makes AES-256-GCM
	}
	return &Key{aead: aead}
}

// Writer seals what is written to it in segments of SegmentSize, handing
// each to emit (which must not keep the slice); Close seals the last.
type Writer struct {
	key     *Key
	context string
	emit    func(sealed []byte) error
	buf     []byte
	out     []byte
	index   int64
	err     error
}

// NewWriter seals a stream under context, segment by segment, into emit.
func (k *Key) NewWriter(context string, emit func(sealed []byte) error) *Writer {
	return &Writer{key: k, context: context, emit: emit, buf: make([]byte, 0, SegmentSize)}
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if len(w.buf) == SegmentSize {
			// Full, and more follows: it is not the last.
			if w.err = w.flush(false); w.err != nil {
				return written, w.err
			}
		}
		n := copy(w.buf[len(w.buf):SegmentSize], p)
		w.buf = w.buf[:len(w.buf)+n]
		p = p[n:]
		written += n
	}
	return written, nil
}

// Close seals the last segment (empty for an empty stream).
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.flush(true)
	if w.err == nil {
		w.err = errors.New("keyring: write after close")
		return nil
	}
	return w.err
}

// Segments is how many segments were emitted.
func (w *Writer) Segments() int64 { return w.index }

func (w *Writer) flush(last bool) error {
	var err error
	if w.out, err = w.key.SealSegment(w.out[:0], w.buf, w.context, w.index, last); err != nil {
		return err
	}
	if err := w.emit(w.out); err != nil {
		return err
	}
	w.index++
	w.buf = w.buf[:0]
	return nil
}

// Segments is how many segments a stream of size bytes is sealed in.
func Segments(size int64) int64 {
	if size <= 0 {
		return 1
	}
	return (size + SegmentSize - 1) / SegmentSize
}

// Stream reads a sealed stream of size bytes, fetching and opening one
// segment at a time (the one last opened is kept). It is an io.Reader,
// io.ReaderAt and io.Seeker (for ranges), not safe for concurrent use.
type Stream struct {
	key     *Key
	context string
	size    int64
	n       int64
	fetch   func(index int64) ([]byte, error)
	cur     int64 // index of plain, -1 for none
	plain   []byte
	off     int64
}

// NewStream reads the stream under context of size bytes whose segment i
// fetch returns. Every segment is checked as it is opened: a missing,
// moved, extra-at-the-end or altered one fails with ErrKey.
func (k *Key) NewStream(context string, size int64, fetch func(index int64) ([]byte, error)) *Stream {
	return &Stream{key: k, context: context, size: size, n: Segments(size), fetch: fetch, cur: -1}
}

// Size is the stream's plain length.
func (s *Stream) Size() int64 { return s.size }

func (s *Stream) segment(i int64) ([]byte, error) {
	if i == s.cur {
		return s.plain, nil
	}
	s.cur = -1
	sealed, err := s.fetch(i)
	if err != nil {
		return nil, err
	}
	last := i == s.n-1
	if s.plain, err = s.key.OpenSegment(s.plain[:0], sealed, s.context, i, last); err != nil {
		return nil, err
	}
	want := int64(SegmentSize)
	if last {
		want = s.size - i*SegmentSize
	}
	if int64(len(s.plain)) != want {
		return nil, fmt.Errorf("segment %d of %s holds %d bytes, not %d: %w", i, s.context, len(s.plain), want, ErrKey)
	}
	s.cur = i
	return s.plain, nil
}

// ReadAt reads len(p) bytes at off.
func (s *Stream) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("keyring: negative offset")
	}
	read := 0
	for len(p) > 0 {
		if off >= s.size {
			if s.size == 0 && s.cur < 0 {
				// An empty stream still has its one segment to check.
				if _, err := s.segment(0); err != nil {
					return read, err
				}
			}
			return read, io.EOF
		}
		i := off / SegmentSize
		seg, err := s.segment(i)
		if err != nil {
			return read, err
		}
		n := copy(p, seg[off-i*SegmentSize:])
		p, off, read = p[n:], off+int64(n), read+n
	}
	return read, nil
}

func (s *Stream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	// One segment per call at most, so a caller's large buffer does not
	// fetch several before it sees the first.
	if s.off < s.size {
		i := s.off / SegmentSize
		p = p[:min(int64(len(p)), (i+1)*SegmentSize-s.off)]
	}
	n, err := s.ReadAt(p, s.off)
	s.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Seek sets where Read continues.
func (s *Stream) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.off
	case io.SeekEnd:
		offset += s.size
	default:
		return 0, errors.New("keyring: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("keyring: negative position")
	}
	s.off = offset
	return offset, nil
}
