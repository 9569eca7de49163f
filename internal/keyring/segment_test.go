package keyring

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
)

// sealed seals plain under ctx and returns its segments.
func sealed(t *testing.T, k *Key, ctx string, plain []byte) [][]byte {
	t.Helper()
	var segs [][]byte
	w := k.NewWriter(ctx, func(s []byte) error { segs = append(segs, slices.Clone(s)); return nil })
	// Odd-sized writes, so segment boundaries fall inside them.
	for rest := plain; len(rest) > 0; {
		n := min(len(rest), 100_003)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if int64(len(segs)) != Segments(int64(len(plain))) || w.Segments() != int64(len(segs)) {
		t.Fatalf("%d bytes sealed in %d segments, want %d", len(plain), len(segs), Segments(int64(len(plain))))
	}
	return segs
}

func fetchFrom(segs [][]byte) func(int64) ([]byte, error) {
	return func(i int64) ([]byte, error) {
		if i < 0 || i >= int64(len(segs)) {
			return nil, fmt.Errorf("segment %d not stored", i)
		}
		return segs[i], nil
	}
}

func TestSegmentsRoundTrip(t *testing.T) {
	k := NewKey()
	for _, size := range []int{0, 1, SegmentSize - 1, SegmentSize, SegmentSize + 1, 3*SegmentSize + 12345} {
		plain := make([]byte, size)
		_, _ = rand.Read(plain)
		segs := sealed(t, k, "original:1:2", plain)
		for _, s := range segs {
			if size >= 64 && bytes.Contains(s, plain[:64]) {
				t.Fatal("a sealed segment holds plain text")
			}
		}
		got, err := io.ReadAll(k.NewStream("original:1:2", int64(size), fetchFrom(segs)))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: read %d bytes, %v", size, len(got), err)
		}
		if size > 10 {
			// ReadAt across a segment boundary, as zip and TIFF readers do.
			st := k.NewStream("original:1:2", int64(size), fetchFrom(segs))
			off := int64(max(0, min(size-10, SegmentSize-5)))
			p := make([]byte, 10)
			if n, err := st.ReadAt(p, off); n != 10 || (err != nil && err != io.EOF) || !bytes.Equal(p, plain[off:off+10]) {
				t.Fatalf("size %d: ReadAt(%d) = %d, %v", size, off, n, err)
			}
		}
	}
}

// TestSegmentsTamper: every way of rearranging stored segments is refused.
func TestSegmentsTamper(t *testing.T) {
	k := NewKey()
	plain := make([]byte, 3*SegmentSize+100)
	_, _ = rand.Read(plain)
	size := int64(len(plain))
	segs := sealed(t, k, "original:1:2", plain)
	other := sealed(t, k, "original:1:3", plain) // same bytes, another version
	full := sealed(t, k, "original:1:2", plain[:3*SegmentSize])

	flipped := slices.Clone(segs)
	flipped[1] = slices.Clone(segs[1])
	flipped[1][40] ^= 1
	cases := map[string]struct {
		segs [][]byte
		size int64
		key  *Key
		ctx  string
	}{
		"swapped":                {[][]byte{segs[1], segs[0], segs[2], segs[3]}, size, k, "original:1:2"},
		"one repeated":           {[][]byte{segs[0], segs[0], segs[2], segs[3]}, size, k, "original:1:2"},
		"from another version":   {[][]byte{segs[0], other[1], segs[2], segs[3]}, size, k, "original:1:2"},
		"truncated":              {segs[:3], size, k, "original:1:2"},
		"truncated, size too":    {segs[:3], 3 * SegmentSize, k, "original:1:2"},
		"last of another stream": {[][]byte{segs[0], segs[1], full[2], segs[3]}, size, k, "original:1:2"},
		"extended":               {append(slices.Clone(full), segs[3]), size, k, "original:1:2"},
		"a bit flipped":          {flipped, size, k, "original:1:2"},
		"size changed":           {segs, size - 1, k, "original:1:2"},
		"other context":          {segs, size, k, "original:2:2"},
		"other key":              {segs, size, NewKey(), "original:1:2"},
	}
	for name, c := range cases {
		_, err := io.ReadAll(c.key.NewStream(c.ctx, c.size, fetchFrom(c.segs)))
		if err == nil {
			t.Errorf("%s: read without error", name)
		} else if name != "truncated" && !errors.Is(err, ErrKey) {
			t.Errorf("%s: %v, want ErrKey", name, err)
		}
	}
	// A segment sealed whole (Seal) is not a segment, and back.
	whole, _ := k.Seal(plain[:10], "original:1:2")
	if _, err := io.ReadAll(k.NewStream("original:1:2", 10, fetchFrom([][]byte{whole}))); !errors.Is(err, ErrKey) {
		t.Errorf("a whole-sealed value read as a segment: %v", err)
	}
	if _, err := k.Open(segs[3], "original:1:2"); !errors.Is(err, ErrKey) {
		t.Errorf("a segment opened as a whole value: %v", err)
	}
}
