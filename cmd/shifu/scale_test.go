package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
	"github.com/shifu-factory/shifu/internal/testenv"
)

// TestScaleOut: two `shifu serve` processes share one database, one of them
// through pgbouncer in transaction mode. River hands each ingest job to one
// process (every job attempted once, by one of them, both doing some); a
// process killed with SIGKILL in the middle of a job leaves it to the other,
// which finishes it. Searches go to a streaming replica once it has replayed
// the primary's WAL, to the primary when the replica is behind (replay
// paused: a fresh upload is found all the same) or down.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two clusters, pgbouncer and two servers")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pgsh := filepath.Join(root, "scripts", "pg.sh")
	_, err = os.Stat("/usr/lib/postgresql/15/bin/pg_basebackup")
	testenv.Need(t, err == nil, "PostgreSQL 15 server binaries are not installed (scripts/deps.sh installs them)")
	bouncer, err := exec.LookPath("pgbouncer")
	if err != nil { // Debian puts it in /usr/sbin, not on every PATH
		bouncer, err = "/usr/sbin/pgbouncer", nil
		_, err = os.Stat(bouncer)
	}
	testenv.Need(t, err == nil, "pgbouncer is not installed (scripts/deps.sh installs it)")

	dir := t.TempDir()
	ports := freePorts(t, 5)
	sh := func(args ...string) (string, error) {
		out, err := exec.Command("bash", append([]string{pgsh}, args...)...).CombinedOutput()
		return strings.TrimSpace(lastLine(string(out))), err
	}
	primary, err := sh("start", filepath.Join(dir, "primary"), ports[0])
	testenv.Need(t, err == nil, fmt.Sprintf("a second PostgreSQL cluster cannot start: %v: %s", err, primary))
	t.Cleanup(func() { _, _ = sh("stop", filepath.Join(dir, "primary")) })
	replica, err := sh("replica", ports[0], filepath.Join(dir, "replica"), ports[1])
	testenv.Need(t, err == nil, fmt.Sprintf("a streaming replica cannot start: %v: %s", err, replica))
	t.Cleanup(func() { _, _ = sh("stop", filepath.Join(dir, "replica")) })
	dbURL, err := sh("db", primary, "shifu")
	if err != nil {
		t.Fatalf("create database: %v: %s", err, dbURL)
	}
	replicaURL := strings.Replace(dbURL, ":"+ports[0]+"/", ":"+ports[1]+"/", 1)
	bouncerURL := strings.Replace(dbURL, ":"+ports[0]+"/", ":"+ports[2]+"/", 1) + "&default_query_exec_mode=cache_describe"
	startBouncer(t, bouncer, filepath.Join(dir, "bouncer"), ports[2], ports[0])

	// The fake embedding service hangs the first request for the document
	// named slow, until its client is gone, and tells the test.
	slowSeen := make(chan struct{})
	var slowOnce atomic.Bool
	fake := llmtest.NewServer(t, llmtest.Options{Dim: 64, Fail: func(n int, r llmtest.Request) *llmtest.Step {
		if r.Embed != nil && strings.Contains(strings.Join(r.Embed.Input, " "), "slowmarker") && slowOnce.CompareAndSwap(false, true) {
			close(slowSeen)
			return &llmtest.Step{Hang: true}
		}
		return nil
	}})

	key := keyring.Generate()
	env := map[string]string{
		"DATABASE_URL": dbURL, "SHIFU_MASTER_KEY": key,
		"SHIFU_EMBED_BASE_URL": fake.BaseURL(), "SHIFU_EMBED_MODEL": "fake-embed", "SHIFU_EMBED_DIM": "64",
	}
	cli := &shell{t: t, env: env}
	cli.must("migrate")
	cli.must("tenant", "create", "acme")
	if out, err := cli.run("user", "create", "--tenant", "acme", "--user", "sup", "--role", "supervisor"); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	token := strings.TrimSpace(strings.SplitN(cli.must("token", "create", "--tenant", "acme", "--user", "sup"), "\n", 2)[0])

	bin := filepath.Join(dir, "shifu")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	serveEnv := func(db string) []string {
		e := []string{"SHIFU_WORKERS=1", "SHIFU_JOB_TIMEOUT=2m", "SHIFU_LOG_LEVEL=info", "PATH=" + os.Getenv("PATH")}
		for k, v := range env {
			if k == "DATABASE_URL" {
				v = db
			}
			e = append(e, k+"="+v)
		}
		return e
	}
	a := startServe(t, bin, "127.0.0.1:"+ports[3], serveEnv(dbURL))
	b := startServe(t, bin, "127.0.0.1:"+ports[4], serveEnv(bouncerURL))

	// Two processes, one queue: every job attempted once, by one of them.
	var ids []int64
	for i := range 8 {
		ids = append(ids, upload(t, []string{a.url, b.url}[i%2], token, fmt.Sprintf("part%d.md", i),
			fmt.Sprintf("# Part %d\n\nThe coolant pump number %d needs grease every %d hours.\n", i, i, 100+i)))
	}
	conn := connect(t, dbURL)
	waitReady(t, conn, ids, 3*time.Minute)
	by := map[string]int{}
	rows, err := conn.Query(context.Background(), `SELECT attempt, attempted_by FROM river_job WHERE kind = 'ingest'
		AND (args->>'document')::bigint IN (SELECT id FROM documents WHERE head_id = ANY($1))`, ids)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var attempt int
		var who []string
		if err := rows.Scan(&attempt, &who); err != nil {
			t.Fatal(err)
		}
		if attempt != 1 || len(who) != 1 {
			t.Errorf("job attempted %d times by %v, want once", attempt, who)
		}
		for _, w := range who {
			by[pidOf(w)]++
		}
		n++
	}
	if rows.Err() != nil || n != len(ids) {
		t.Fatalf("%d jobs for %d documents: %v", n, len(ids), rows.Err())
	}
	if by[strconv.Itoa(a.cmd.Process.Pid)] == 0 || by[strconv.Itoa(b.cmd.Process.Pid)] == 0 || len(by) != 2 {
		t.Errorf("jobs by process %v; want both %d and %d", by, a.cmd.Process.Pid, b.cmd.Process.Pid)
	}
	t.Logf("jobs by process: %v", by)

	// Killed mid-job: the other process takes the job up and finishes it.
	slow := upload(t, a.url, token, "slow.md", "# Slow\n\nslowmarker: the hydraulic unit holds 40 litres of oil.\n")
	select {
	case <-slowSeen:
	case <-time.After(2 * time.Minute):
		t.Fatal("the slow document's embedding was never requested")
	}
	var who []string
	if err := conn.QueryRow(context.Background(), `SELECT attempted_by FROM river_job WHERE kind = 'ingest'
		AND (args->>'document')::bigint = (SELECT id FROM documents WHERE head_id = $1)`, slow).Scan(&who); err != nil || len(who) != 1 {
		t.Fatalf("slow job attempted by %v: %v", who, err)
	}
	victim, survivor := a, b
	if pidOf(who[0]) == strconv.Itoa(b.cmd.Process.Pid) {
		victim, survivor = b, a
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = victim.cmd.Wait()
	waitReady(t, conn, []int64{slow}, 3*time.Minute)
	if err := conn.QueryRow(context.Background(), `SELECT attempted_by FROM river_job WHERE kind = 'ingest'
		AND (args->>'document')::bigint = (SELECT id FROM documents WHERE head_id = $1)`, slow).Scan(&who); err != nil {
		t.Fatal(err)
	}
	if len(who) != 2 || pidOf(who[1]) != strconv.Itoa(survivor.cmd.Process.Pid) {
		t.Errorf("slow job attempted by %v; want the killed %d, then %d", who, victim.cmd.Process.Pid, survivor.cmd.Process.Pid)
	}

	// Searches: the replica when it is current.
	cli.env["SHIFU_REPLICA_DATABASE_URL"] = replicaURL
	// This throw-away primary commits asynchronously: its WAL reaches the
	// replica at the WAL writer's pace (200 ms), past the 100 ms default.
	cli.env["SHIFU_REPLICA_WAIT"] = "2s"
	cli.env["SHIFU_LOG_LEVEL"] = "debug"
	search := func(q, want string) string {
		t.Helper()
		out := cli.must("search", "--tenant", "acme", q)
		if !strings.Contains(out, want) {
			t.Fatalf("search %q: %s lacks %q", q, out, want)
		}
		switch {
		case strings.Contains(out, "msg=search db=replica"):
			return "replica"
		case strings.Contains(out, "msg=search db=primary"):
			return "primary"
		}
		t.Fatalf("search %q: no route logged:\n%s", q, out)
		return ""
	}
	if got := search("hydraulic unit oil", "slow.md"); got != "replica" {
		t.Errorf("search went to the %s, want the replica", got)
	}
	// Replay paused: a fresh upload, ready on the primary, is not on the
	// replica; the search finds it on the primary.
	rconn := connect(t, strings.Replace(replicaURL, "/shifu?", "/postgres?", 1))
	if _, err := rconn.Exec(context.Background(), `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	fresh := upload(t, survivor.url, token, "fresh.md", "# Fresh\n\nThe spindle chiller alarm A-77 means the filter is blocked.\n")
	waitReady(t, conn, []int64{fresh}, 2*time.Minute)
	if got := search("spindle chiller alarm A-77", "fresh.md"); got != "primary" {
		t.Errorf("search during paused replay went to the %s, want the primary", got)
	}
	if _, err := rconn.Exec(context.Background(), `SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	rconn.Close(context.Background())
	// Caught up again, then down: back to the replica, then the primary.
	cli.env["SHIFU_REPLICA_WAIT"] = "10s"
	if got := search("spindle chiller alarm A-77", "fresh.md"); got != "replica" {
		t.Errorf("search after replay resumed went to the %s, want the replica", got)
	}
	if out, err := sh("stop", filepath.Join(dir, "replica")); err != nil {
		t.Fatalf("stop replica: %v: %s", err, out)
	}
	if got := search("coolant pump grease", "part"); got != "primary" {
		t.Errorf("search with the replica down went to the %s, want the primary", got)
	}
	// The process behind pgbouncer served its requests and jobs throughout;
	// it answers still.
	resp, err := http.Get(survivor.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// server is one `shifu serve` process.
type server struct {
	cmd *exec.Cmd
	url string
}

func startServe(t *testing.T, bin, addr string, env []string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", addr)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, url: "http://" + addr}
	up := make(chan struct{})
	var log bytes.Buffer
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "serving on") {
				once.Do(func() { close(up) })
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
		<-done
		if t.Failed() {
			mu.Lock()
			t.Logf("serve %s (pid %d) log:\n%s", addr, cmd.Process.Pid, log.String())
			mu.Unlock()
		}
	})
	select {
	case <-up:
	case <-done:
		t.Fatalf("serve %s exited before listening", addr)
	case <-time.After(2 * time.Minute):
		t.Fatalf("serve %s did not listen within 2 minutes", addr)
	}
	return s
}

// startBouncer runs pgbouncer in transaction mode on port in front of the
// primary's shifu database, as the postgres user when the test runs as root
// (pgbouncer refuses root).
func startBouncer(t *testing.T, bin, dir, port, primaryPort string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ini := filepath.Join(dir, "pgbouncer.ini")
	conf := fmt.Sprintf(`[databases]
shifu = host=127.0.0.1 port=%s dbname=shifu
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %s
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
max_client_conn = 200
default_pool_size = 20
`, primaryPort, port, filepath.Join(dir, "users.txt"))
	if err := os.WriteFile(ini, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.txt"), []byte(`"postgres" ""`+"\n"+`"shifu_app" ""`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{ini}
	if os.Geteuid() == 0 {
		args = []string{"-u", "postgres", ini}
		for p := dir; p != "/"; p = filepath.Dir(p) {
			_ = os.Chmod(p, 0o755)
		}
	}
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); <-exited })
	// Ready when it accepts connections.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("pgbouncer exited: %s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer did not listen: %s", out.String())
		}
	}
}

func upload(t *testing.T, base, token, name, text string) int64 {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write([]byte(text))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/documents", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Files []struct {
			Document struct {
				ID int64 `json:"id"`
			} `json:"document"`
			Error string `json:"error"`
		} `json:"files"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &r); err != nil || len(r.Files) != 1 || r.Files[0].Document.ID == 0 {
		t.Fatalf("upload %s to %s: %d %s", name, base, resp.StatusCode, raw)
	}
	return r.Files[0].Document.ID
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// waitReady polls (as the owner, past row-level security) until every
// document of ids (each with one version here) is ready, failing on a failed
// one or at the deadline.
func waitReady(t *testing.T, c *pgx.Conn, ids []int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var ready, failed int
		var errs []string
		if err := c.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE status = 'ready'), count(*) FILTER (WHERE status = 'failed'),
			coalesce(array_agg(error) FILTER (WHERE status = 'failed'), '{}') FROM documents WHERE head_id = ANY($1)`, ids).Scan(&ready, &failed, &errs); err != nil {
			t.Fatal(err)
		}
		if failed > 0 {
			t.Fatalf("documents failed: %v", errs)
		}
		if ready == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d documents ready after %s", ready, len(ids), within)
		}
		<-tick.C
	}
}

// pidOf is the process id in a job queue client id (host-pid-start).
func pidOf(client string) string {
	parts := strings.Split(client, "-")
	if len(parts) < 3 {
		return client
	}
	return parts[len(parts)-2]
}

func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var ls []net.Listener
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
