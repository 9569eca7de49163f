package web_test

import (
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoadLogins measures the cost of a login flood: SHIFU_LOAD_LOGINS
// (default 64) parallel bad logins, three rounds, with LoginChecks from
// SHIFU_LOAD_LOGIN_CHECKS (default: the cores) and the per-address limit
// lifted (as if each came from its own address: the worst case). Meanwhile a
// good login every 300 ms. It reports the rise in resident memory over the
// idle server and each good login's status and time. SHIFU_LOAD=1 runs it.
func TestLoadLogins(t *testing.T) {
	loadTest(t)
	n := envInt("SHIFU_LOAD_LOGINS", 64)
	w := newWorld(t, worldOpts{login: [2]int{envInt("SHIFU_LOAD_LOGIN_CHECKS", runtime.NumCPU()), 1 << 20}})
	// One CSRF pair for every post, as an attacker keeps it: no cookie jar.
	c := w.anon()
	page := c.do("GET", "/login", nil, "")
	m := csrfInput.FindStringSubmatch(readBody(t, page))
	var pre *http.Cookie
	for _, ck := range page.Cookies() {
		if ck.Name == "shifu_pre" {
			pre = ck
		}
	}
	post := func(body string) int {
		req, _ := http.NewRequest("POST", w.http.URL+"/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(pre)
		r, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		r.Body.Close()
		return r.StatusCode
	}
	// Distinct logins, so the failed-login throttle does not cut them off.
	form := func(i int) string {
		return url.Values{"tenant": {"acme"}, "login": {"nobody" + strconv.Itoa(i)}, "password": {"wrong password!"}, "csrf": {m[1]}}.Encode()
	}
	runtime.GC()
	debug.FreeOSMemory()
	base := rssKB()
	peak := base
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				peak = max(peak, rssKB())
			}
		}
	})
	var good []string
	var goodWG sync.WaitGroup
	floodDone := make(chan struct{})
	goodWG.Go(func() {
		for {
			select {
			case <-floodDone:
				return
			case <-time.After(300 * time.Millisecond):
			}
			gc := w.anon()
			gm := csrfInput.FindStringSubmatch(readBody(t, gc.do("GET", "/login", nil, "")))
			f := url.Values{"tenant": {"acme"}, "login": {"worker"}, "password": {password}, "csrf": {gm[1]}}.Encode()
			start := time.Now()
			r := gc.do("POST", "/login", strings.NewReader(f), "application/x-www-form-urlencoded")
			r.Body.Close()
			good = append(good, strconv.Itoa(r.StatusCode)+" in "+time.Since(start).Round(10*time.Millisecond).String())
		}
	})
	codes := map[int]int{}
	var mu sync.Mutex
	start := time.Now()
	for round := range 3 {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				code := post(form(round*n + i))
				mu.Lock()
				codes[code]++
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	took := time.Since(start)
	close(floodDone)
	goodWG.Wait()
	close(stop)
	sampler.Wait()
	keys := make([]int, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var statuses []string
	for _, k := range keys {
		statuses = append(statuses, strconv.Itoa(codes[k])+"×"+strconv.Itoa(k))
	}
	t.Logf("%d×%d bad logins in %s, %s; RSS idle %d MB, peak %d MB (+%d MB)", 3, n, took.Round(time.Millisecond),
		strings.Join(statuses, " "), base>>10, peak>>10, (peak-base)>>10)
	t.Logf("good logins meanwhile: %s", strings.Join(good, ", "))
	if codes[http.StatusInternalServerError] > 0 {
		t.Errorf("%d logins failed with 500", codes[http.StatusInternalServerError])
	}
}

// rssKB is the process's resident memory now, in kB (Linux).
func rssKB() int { return procKB("VmRSS") }
