package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shifu-factory/shifu/internal/keyring"
)

// cluster is a throw-away PostgreSQL of this test's own, which it may stop
// and start (scripts/pg.sh, as `make test` starts the shared one).
type cluster struct {
	t    *testing.T
	dir  string
	port int
}

func newCluster(t *testing.T) (*cluster, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c := &cluster{t: t, dir: filepath.Join(t.TempDir(), "pg"), port: port}
	url := c.start()
	t.Cleanup(c.stop)
	return c, url
}

func (c *cluster) start() string {
	c.t.Helper()
	out, err := exec.Command("bash", "../../scripts/pg.sh", "start", c.dir, fmt.Sprint(c.port)).CombinedOutput()
	if err != nil {
		c.t.Fatalf("start PostgreSQL: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func (c *cluster) stop() {
	_ = exec.Command("bash", "../../scripts/pg.sh", "stop", c.dir).Run()
}

// serve starts `shifu serve` as its own process and returns its base URL
// once it listens.
func (s *shell) serve() string {
	base, _ := s.serveCmd()
	return base
}

func (s *shell) serveCmd() (string, *exec.Cmd) {
	s.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(osArgs0(), "serve", "--addr", addr)
	cmd.Env = s.childEnv()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); pw.Close() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "serving on") {
				close(ready)
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case <-ready:
	case <-time.After(time.Minute):
		s.t.Fatal("shifu serve did not start")
	}
	return "http://" + addr, cmd
}

// TestDatabaseRestartAnswers503 stops PostgreSQL under a running server:
// requests get 503 with Retry-After (never 500), and once PostgreSQL is back
// the same server answers again without a restart.
func TestDatabaseRestartAnswers503(t *testing.T) {
	pg, url := newCluster(t)
	sh := &shell{t: t, env: map[string]string{"DATABASE_URL": url, "SHIFU_MASTER_KEY": keyring.Generate()}}
	sh.must("migrate")
	sh.must("tenant", "create", "acme")
	sh.must("user", "create", "--tenant", "acme", "--user", "ana", "--role", "supervisor")
	token := strings.TrimSpace(strings.Split(sh.must("token", "create", "--tenant", "acme", "--user", "ana"), "\n")[0])
	base := sh.serve()

	client := &http.Client{Timeout: 30 * time.Second}
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", method, path)
		}
		return resp.StatusCode, string(b)
	}
	ask := `{"model":"shifu","messages":[{"role":"user","content":"How do I reset alarm E-101?"}]}`
	requests := []struct{ method, path, body string }{
		{"GET", "/api/documents", ""}, {"POST", "/v1/chat/completions", ask}, {"GET", "/api/conversations", ""},
	}
	for _, r := range requests {
		if code, b := call(r.method, r.path, r.body); code != http.StatusOK {
			t.Fatalf("before the outage: %s %s: %d %s", r.method, r.path, code, b)
		}
	}

	pg.stop()
	for _, r := range requests {
		if code, b := call(r.method, r.path, r.body); code != http.StatusServiceUnavailable {
			t.Errorf("database down: %s %s: %d %s, want 503", r.method, r.path, code, b)
		}
	}
	if code, _ := call("GET", "/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("database down: /readyz %d, want 503", code)
	}

	pg.start()
	for _, r := range requests {
		recovered := false
		for range 20 { // each request makes its own new connection attempt
			code, b := call(r.method, r.path, r.body)
			if code == http.StatusOK {
				recovered = true
				break
			}
			if code != http.StatusServiceUnavailable {
				t.Fatalf("database back: %s %s: %d %s, want 200 (or 503 while reconnecting)", r.method, r.path, code, b)
			}
		}
		if !recovered {
			t.Fatalf("database back: %s %s still failing after 20 tries", r.method, r.path)
		}
	}
}

// childEnv is the environment a child shifu process gets.
func (s *shell) childEnv() []string {
	env := append(osEnviron(), "SHIFU_TEST_MAIN=1")
	for k, v := range s.env {
		env = append(env, k+"="+v)
	}
	return env
}
