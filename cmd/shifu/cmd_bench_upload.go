package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shifu-factory/shifu"
)

// cmdBenchUpload sends --files uploads of --mb MiB each at once to a running
// `shifu serve` on this machine (process --pid) and reports the server's
// resident memory before, its peak while they stream in (sampled every
// 20 ms) and its high-water mark after. Each file is a PNG header and
// random bytes, generated as it is sent, so the client holds none of it
// and no two are the same: accepted at upload (the header is sound) and
// failed at once by ingest's decoder, so what is measured is the uploads,
// not a parser (--wait waits for ingest to be done with them too).
func cmdBenchUpload(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "bench upload")
	target := fs.String("url", "", "base URL of a local shifu serve, e.g. http://127.0.0.1:18180")
	token := fs.String("token", "", "API token of a supervisor or admin (shifu token create)")
	pid := fs.Int("pid", 0, "process id of that shifu serve, whose memory is read from /proc")
	files := fs.Int("files", 4, "uploads at once (at most 64)")
	mb := fs.Int("mb", 200, "size of each upload in MiB (at most 4096)")
	wait := fs.Bool("wait", false, "then wait for ingest to be done with them (they fail to decode) and report the peak over that too")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	base, err := loopbackURL(*target)
	if err != nil {
		return err
	}
	if *token == "" {
		return shifu.Errorf(shifu.ErrInvalid, "--token is required (create one with shifu token create)")
	}
	if *files < 1 || *files > 64 || *mb < 1 || *mb > 4096 {
		return shifu.Errorf(shifu.ErrInvalid, "--files %d --mb %d: want 1 to 64 files of 1 to 4096 MiB", *files, *mb)
	}
	before, err := rss(*pid, "VmRSS")
	if err != nil {
		return shifu.Errorf(shifu.ErrInvalid, "--pid %d: cannot read its memory (%v): give the process id of the local shifu serve", *pid, err)
	}

	// The sampler: owned here, stopped when the measurement ends.
	var mu sync.Mutex
	var peak int64
	maxRSS := func() int64 { mu.Lock(); defer mu.Unlock(); return peak }
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := rss(*pid, "VmRSS"); err == nil {
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()

	size := int64(*mb) << 20
	seed := time.Now().UnixNano()
	hc := &http.Client{Timeout: 30 * time.Minute}
	results := make([]string, *files)
	ids := make([]int64, *files)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range *files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], results[i] = uploadJunk(ctx, hc, base+"/api/documents", *token, fmt.Sprintf("bench-upload-%d-%d.png", seed, i), size, uint64(seed)+uint64(i))
		}()
	}
	wg.Wait()
	took := time.Since(start)
	upPeak := maxRSS()
	var ingest time.Duration
	if *wait {
		mark := time.Now()
		for _, id := range ids {
			if id > 0 {
				waitDone(ctx, hc, base, *token, id)
			}
		}
		ingest = time.Since(mark)
	}
	close(stop)
	<-sampled
	hwm, _ := rss(*pid, "VmHWM")

	for i, r := range results {
		fmt.Fprintf(e.stdout, "upload %d     %s\n", i+1, r)
	}
	fmt.Fprintf(e.stdout, "uploads       %d × %d MiB at once in %v (%.0f MiB/s together)\n", *files, *mb, took.Round(time.Millisecond),
		float64(int64(*files)*size>>20)/took.Seconds())
	fmt.Fprintf(e.stdout, "server RSS    %d MiB before, peak %d MiB while uploading (+%d MiB)\n", before>>10, upPeak>>10, (upPeak-before)>>10)
	if *wait {
		fmt.Fprintf(e.stdout, "ingest        %v more until the workers were done with them; peak %d MiB over it all\n", ingest.Round(time.Millisecond), maxRSS()>>10)
	}
	fmt.Fprintf(e.stdout, "high-water    %d MiB (VmHWM, the server's whole life)\n", hwm>>10)
	return nil
}

// waitDone polls a document until ingest is done with it (ready or failed),
// for at most ten minutes.
func waitDone(ctx context.Context, hc *http.Client, base, token string, id int64) {
	end := time.Now().Add(10 * time.Minute)
	for time.Now().Before(end) && ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/documents/%d", base, id), nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err == nil {
			var d struct {
				Status shifu.Status `json:"status"`
			}
			_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d)
			resp.Body.Close()
			if d.Status.Done() {
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// uploadJunk streams one generated file as a multipart upload and says how
// the server answered.
func uploadJunk(ctx context.Context, hc *http.Client, u, token, name string, size int64, seed uint64) (int64, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { // the body's writer: ends when the body is written or the request gives up (pr closed)
		part, err := mw.CreateFormFile("file", name)
		if err == nil {
			var s [32]byte
			copy(s[:], strconv.FormatUint(seed, 10))
			_, err = io.Copy(part, &junk{left: size, rng: rand.NewChaCha8(s)})
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, pr)
	if err != nil {
		pr.Close()
		return 0, "error: " + err.Error()
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	pr.Close()
	if err != nil {
		return 0, "error: " + err.Error()
	}
	defer resp.Body.Close()
	var out struct {
		Files []struct {
			Status   int    `json:"status"`
			Error    string `json:"error"`
			Document *struct {
				ID int64 `json:"id"`
			} `json:"document"`
		} `json:"files"`
		Error string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out)
	if len(out.Files) == 1 && out.Files[0].Document != nil {
		return out.Files[0].Document.ID, fmt.Sprintf("%d, stored as document %d", resp.StatusCode, out.Files[0].Document.ID)
	}
	if len(out.Files) == 1 {
		return 0, fmt.Sprintf("%d: %s", resp.StatusCode, out.Files[0].Error)
	}
	return 0, fmt.Sprintf("%d: %s", resp.StatusCode, out.Error)
}

// junk is left bytes of a PNG header (signature and a sound IHDR chunk)
// and then random bytes.
type junk struct {
	left, sent int64
	rng        *rand.ChaCha8
}

func (j *junk) Read(p []byte) (int, error) {
	if j.left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), j.left)]
	_, _ = j.rng.Read(p)
	if j.sent == 0 {
		copy(p, pngHeader())
	}
	j.left -= int64(len(p))
	j.sent += int64(len(p))
	return len(p), nil
}

func pngHeader() []byte {
	ihdr := []byte("IHDR\x00\x00\x08\x00\x00\x00\x08\x00\x08\x00\x00\x00\x00") // 2048×2048, 8-bit grey
	h := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d")
	h = append(h, ihdr...)
	return binary.BigEndian.AppendUint32(h, crc32.ChecksumIEEE(ihdr))
}

// rss reads a memory figure of process pid (VmRSS, VmHWM) in KiB.
func rss(pid int, field string) (int64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no process id")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
