package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

// TestLoadChat drives POST /api/chat on loopback with a fake model that takes
// 100 ms, from SHIFU_LOAD_CLIENTS concurrent clients (default 32) for
// SHIFU_LOAD_SECONDS (default 10), through the whole stack: auth, retrieval in
// PostgreSQL, the answer service, storing the exchange, SSE. It reports
// sustained requests per second, latency percentiles and memory. Run with
// SHIFU_LOAD=1 (it is not part of the normal test run).
func TestLoadChat(t *testing.T) {
	loadTest(t)
	clients := envInt("SHIFU_LOAD_CLIENTS", 32)
	dur := time.Duration(envInt("SHIFU_LOAD_SECONDS", 10)) * time.Second
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: "Replace the mechanical seal, part MS-220 [1].", Latency: 100 * time.Millisecond}})
	w.ingestReady(part{"file", "pump.md", []byte(manual)})
	tok := w.tokens["worker"]
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	questions := []string{"How do I fix a seal leak on pump P-101?", "What does alarm E42 mean?", "What torque for the gland bolts?"}

	one := func(q string) (time.Duration, error) {
		b, _ := json.Marshal(map[string]string{"question": q})
		req, _ := http.NewRequest("POST", w.http.URL+"/api/chat", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "event: final") {
			return 0, errBadAnswer{resp.StatusCode, string(body)}
		}
		return time.Since(start), nil
	}
	// Warm up connections and caches.
	for i := 0; i < clients; i++ {
		if _, err := one(questions[i%len(questions)]); err != nil {
			t.Fatal(err)
		}
	}

	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	var peakHeap uint64
	stop := make(chan struct{})
	sampler := make(chan struct{})
	go func() { // samples the heap while the load runs; stopped by closing stop
		defer close(sampler)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				peakHeap = max(peakHeap, ms.HeapInuse)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				d, err := one(questions[(c+i)%len(questions)])
				mu.Lock()
				if err != nil {
					errs++
					if errs == 1 {
						t.Log(err)
					}
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	<-sampler

	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("chat load: %d clients, %s: %d answers, %d errors, %.1f req/s; latency p50 %s p90 %s p99 %s max %s; "+
		"heap in use %d MiB before (dictionary, PDF engine), peak %d MiB under load, sys %d MiB, max RSS %s (server, Postgres client and load generator in one process)",
		clients, elapsed.Round(time.Millisecond), len(lat), errs, float64(len(lat))/elapsed.Seconds(),
		pct(.5).Round(time.Millisecond), pct(.9).Round(time.Millisecond), pct(.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond),
		base.HeapInuse>>20, peakHeap>>20, ms.Sys>>20, maxRSS())
	if errs > 0 {
		t.Fatalf("%d requests failed", errs)
	}
}

type errBadAnswer struct {
	code int
	body string
}

func (e errBadAnswer) Error() string { return "chat answered " + strconv.Itoa(e.code) + ": " + e.body }

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// maxRSS is the process's peak resident set (Linux).
func maxRSS() string {
	if kb := procKB("VmHWM"); kb > 0 {
		return strconv.Itoa(kb) + " kB"
	}
	return "unknown"
}

// procKB reads one kB field of /proc/self/status (Linux); 0 when absent.
func procKB(field string) int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// loadTest skips a load test unless SHIFU_LOAD is set: they are not part of
// the normal test run.
func loadTest(t *testing.T) {
	t.Helper()
	if os.Getenv("SHIFU_LOAD") == "" {
		t.Skip("load test: set SHIFU_LOAD=1 to run it")
	}
}
