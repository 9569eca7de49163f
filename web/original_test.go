package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// junkPNG is a sound PNG header and then n random bytes: accepted at
// upload, failed at once by ingest's decoder.
func junkPNG(n int) []byte {
	b := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x08\x00\x00\x00\x08\x00\x08\x00\x00\x00\x00\x97\xcc\x8c\xec")
	r := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{7}).Read(r)
	return append(b, r...)
}

// TestOriginalStreamsAndRanges: a multi-segment upload is stored and
// served back byte for byte, whole or by range.
func TestOriginalStreamsAndRanges(t *testing.T) {
	w := newWorld(t, worldOpts{})
	sup := w.token("supervisor")
	data := junkPNG(2<<20 + 1234)
	code, out := sup.upload("/api/documents", part{"file", "scan.png", data})
	f := out["files"].([]any)[0].(map[string]any)
	if code != 200 || f["ok"] != true {
		t.Fatalf("upload: %d %v", code, out)
	}
	id := fmt.Sprint(f["document"].(map[string]any)["id"])
	resp := sup.do("GET", "/api/documents/"+id+"/original", nil, "")
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) || resp.Header.Get("Content-Length") != fmt.Sprint(len(data)) {
		t.Fatalf("original: %d, %d bytes (want %d), length %q", resp.StatusCode, len(got), len(data), resp.Header.Get("Content-Length"))
	}
	req, _ := http.NewRequest("GET", w.http.URL+"/api/documents/"+id+"/original", nil)
	req.Header.Set("Authorization", "Bearer "+sup.bearer)
	req.Header.Set("Range", "bytes=1048570-1048589")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[1048570:1048590]) {
		t.Fatalf("range across a segment boundary: %d, %q", resp.StatusCode, got)
	}
}

// TestUploadCutOffStoresNothing: a client that goes away mid-file leaves
// no document and no segment.
func TestUploadCutOffStoresNothing(t *testing.T) {
	w := newWorld(t, worldOpts{})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "cut.png")
	_, _ = fw.Write(junkPNG(3 << 20))
	_ = mw.Close()
	conn, err := net.Dial("tcp", strings.TrimPrefix(w.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /api/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		w.tokens["supervisor"], mw.FormDataContentType(), body.Len())
	_, _ = conn.Write(body.Bytes()[:2<<20]) // two thirds, then gone
	conn.Close()

	// The handler sees the body end early and refuses the file.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := w.anon().do("GET", "/metrics", nil, "")
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(m), `shifu_uploads_total{result="refused"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cut-off upload was never refused")
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx := context.Background()
	var docs, segs int64
	err = w.db.InTenant(ctx, w.acme.ID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM original_segments)`).Scan(&docs, &segs)
	})
	if err != nil {
		t.Fatal(err)
	}
	if docs != 0 || segs != 0 {
		t.Fatalf("a cut-off upload left %d documents, %d segments", docs, segs)
	}
}
