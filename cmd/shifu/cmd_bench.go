package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/retrieval"
)

const benchUsage = "usage: shifu bench ingest [--cpuprofile FILE] FILE | shifu bench search --tenant NAME [--questions FILE.jsonl] [--rounds N] [--k N] | shifu bench load --url http://127.0.0.1:PORT --token T | shifu bench upload --url http://127.0.0.1:PORT --token T --pid PID [--files 4] [--mb 200]"

// cmdBench measures end-to-end ingest of one file (parse, clean, chunk, index,
// embed with the configured embedder, store) into a throw-away tenant, next to
// pdftotext on the same file in the same run, and reports peak memory; or
// search latency (see benchSearch).
func cmdBench(ctx context.Context, e *env, args []string) error {
	switch {
	case len(args) > 0 && args[0] == "search":
		return benchSearch(ctx, e, args[1:])
	case len(args) > 0 && args[0] == "load":
		return cmdBenchLoad(ctx, e, args[1:])
	case len(args) > 0 && args[0] == "upload":
		return cmdBenchUpload(ctx, e, args[1:])
	}
	if len(args) == 0 || args[0] != "ingest" {
		return shifu.Errorf(shifu.ErrInvalid, benchUsage)
	}
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	profile := fs.String("cpuprofile", "", "write a CPU profile of the timed ingest to `FILE` (go tool pprof)")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 1 {
		return shifu.Errorf(shifu.ErrInvalid, benchUsage)
	}
	path := fs.Arg(0)
	data, err := os.ReadFile(path)
	if err != nil {
		return shifu.Errorf(shifu.ErrInvalid, "%s: cannot read", path)
	}
	c, err := e.config()
	if err != nil {
		return err
	}
	var ref time.Duration
	if bin, err := exec.LookPath("pdftotext"); err == nil && strings.HasSuffix(strings.ToLower(path), ".pdf") {
		start := time.Now()
		if err := exec.CommandContext(ctx, bin, path, os.DevNull).Run(); err == nil {
			ref = time.Since(start)
		}
	}
	m, err := keyring.ParseMaster(c.MasterKey.Value())
	if err != nil {
		return err
	}
	name := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	wrapped, err := m.NewDataKey(name)
	if err != nil {
		return err
	}
	// A throw-away tenant, made and dropped as the owner (like tenant create).
	owner, err := e.ownerURL("bench ingest")
	if err != nil {
		return err
	}
	t, err := postgres.CreateTenant(ctx, owner, name, wrapped)
	if err != nil {
		return err
	}
	defer dropTenant(context.WithoutCancel(ctx), owner, t.ID)

	setupStart := time.Now()
	// Builds the PDF engine and loads the dictionary outside the timed part.
	svc, stop, err := e.startIngest(ctx, 1)
	if err != nil {
		return err
	}
	defer stop()
	setup := time.Since(setupStart)

	stopProfile, err := startProfile(*profile)
	if err != nil {
		return err
	}
	defer stopProfile()
	start := time.Now()
	d, _, err := svc.Add(ctx, t.ID, shifu.Upload{Name: filepath.Base(path), Data: data})
	if err != nil {
		return err
	}
	var searchable time.Duration // ready while its figure pages were still being read
	final, err := svc.Wait(ctx, t.ID, []int64{d.VersionID}, func(d shifu.Document) {
		if d.FiguresPending() > 0 && searchable == 0 {
			searchable = time.Since(start)
		}
	})
	if err != nil {
		return err
	}
	took := time.Since(start)
	stopProfile()
	d = final[0]
	if d.Status != shifu.StatusReady {
		return fmt.Errorf("bench: %s did not ingest: %s", path, d.Error)
	}
	fmt.Fprintf(e.stdout, "file          %s (%.1f MB)\n", filepath.Base(path), float64(len(data))/1e6)
	fmt.Fprintf(e.stdout, "start-up      %v (PDF engine, Chinese dictionary, embedder; once per process)\n", setup.Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "ingest        %v: %d pages, %d chunks, %.0f pages/s (embedder %s)\n",
		took.Round(time.Millisecond), d.Pages, d.Chunks, float64(d.Pages)/took.Seconds(), c.Embed.Provider)
	if st := d.Progress.Stages.String(); st != "" {
		fmt.Fprintf(e.stdout, "stages        %s (wall time each; they overlap)\n", st)
	}
	if searchable > 0 {
		fmt.Fprintf(e.stdout, "searchable    %v (text layer; figure pages read by OCR after, in the %v above)\n",
			searchable.Round(time.Millisecond), took.Round(time.Millisecond))
	}
	if ref > 0 {
		fmt.Fprintf(e.stdout, "pdftotext     %v: %.0f pages/s; shifu/pdftotext time ratio %.2f",
			ref.Round(time.Millisecond), float64(d.Pages)/ref.Seconds(), took.Seconds()/ref.Seconds())
		if searchable > 0 {
			fmt.Fprintf(e.stdout, " (searchable at %.2f)", searchable.Seconds()/ref.Seconds())
		}
		fmt.Fprintln(e.stdout)
	}
	fmt.Fprintf(e.stdout, "peak RSS      %s\n", peakRSS())
	return nil
}

// startProfile starts a CPU profile into path ("" none) and returns what
// stops it, safe to call more than once.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "--cpuprofile %s: %v", path, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}

// peakRSS reads the process's high-water mark of resident memory.
func peakRSS() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func dropTenant(ctx context.Context, ownerURL string, id int64) {
	conn, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DELETE FROM tenants WHERE id = $1", id)
}

// benchSearch runs the evaluation questions against an ingested tenant,
// rounds times after one warm-up round, and prints latency percentiles of
// the whole search (what a question costs in serve, model calls aside), of
// its lexical half alone, and of the vector search alone on the plan it
// takes, next to the exact scan and the HNSW index on the same vectors in
// the same run (with the index's recall@k against the exact scan).
func benchSearch(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "bench search")
	tenantName := fs.String("tenant", "", "tenant name (an ingested corpus, e.g. make eval's)")
	qpath := fs.String("questions", filepath.Join("..", "shared", "eval", "dev.jsonl"), "JSON-lines question set")
	rounds := fs.Int("rounds", 3, "timed rounds over the questions")
	k := fs.Int("k", 10, "hits per question")
	ef := fs.Int("ef-search", 0, "hnsw.ef_search for the index walks (0: the default)")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the timed rounds to `FILE` (go tool pprof)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *ef < 0 || *ef > 1000 {
		return shifu.Errorf(shifu.ErrInvalid, benchUsage+" [--ef-search 1-1000]")
	}
	if *rounds < 1 || *rounds > 100 || *k < 1 || *k > 100 {
		return shifu.Errorf(shifu.ErrInvalid, "--rounds %d --k %d: use 1 to 100 for each", *rounds, *k)
	}
	f, err := os.Open(*qpath)
	if err != nil {
		return shifu.Errorf(shifu.ErrInvalid, "--questions %s: %v", *qpath, err)
	}
	qs, err := retrieval.ReadQuestions(f)
	f.Close()
	if err != nil {
		return err
	}
	if len(qs) == 0 {
		return shifu.Errorf(shifu.ErrInvalid, "--questions %s holds no questions", *qpath)
	}
	e.warmAnalyzer()
	t, err := e.tenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	db, err := e.db(ctx)
	if err != nil {
		return err
	}
	s, err := e.searcher(ctx, retrieval.Options{EfSearch: *ef})
	if err != nil {
		return err
	}
	emb, err := e.embedder()
	if err != nil {
		return err
	}
	a, err := e.analyzer()
	if err != nil {
		return err
	}
	st, err := db.Corpus(ctx, t.ID)
	if err != nil {
		return err
	}
	lexical := retrieval.New(db, a, nil, s.Options())
	texts := make([]string, len(qs))
	for i, q := range qs {
		texts[i] = q.Question
	}
	vecs, err := emb.Embed(ctx, texts)
	if err != nil {
		return err
	}
	if st.Models[emb.Model()] == 0 {
		return shifu.Errorf(shifu.ErrInvalid, "tenant %s has no vectors of the configured embedder %s (it has %v)", t.Name, emb.Model(), st.Models)
	}
	exactPlan := postgres.VectorPlan{ExactBelow: math.MaxInt32, IndexShare: 2}
	plans := []struct {
		name string
		plan postgres.VectorPlan
	}{{"vector", postgres.VectorPlan{EfSearch: *ef}}, {"vector exact", exactPlan}, {"vector hnsw", postgres.VectorPlan{ExactBelow: -1, EfSearch: *ef}}}

	lat := map[string][]time.Duration{}
	methods := map[postgres.Method]int{}
	exact := make([][]shifu.Hit, len(qs))
	found, total := 0, 0
	var outs []retrieval.Outcome
	for round := 0; round <= *rounds; round++ {
		timed := round > 0 // round 0 warms caches and plans
		if round == 1 {
			stop, err := startProfile(*profile)
			if err != nil {
				return err
			}
			defer stop()
		}
		o, err := retrieval.Evaluate(ctx, s, t.ID, qs, *k)
		if err != nil {
			return err
		}
		lo, err := retrieval.Evaluate(ctx, lexical, t.ID, qs, *k)
		if err != nil {
			return err
		}
		if timed {
			outs = append(outs, o...)
			for i := range o {
				lat["search"] = append(lat["search"], o[i].Latency)
				lat["lexical"] = append(lat["lexical"], lo[i].Latency)
			}
		}
		for i, v := range vecs {
			for _, p := range plans {
				start := time.Now()
				r, err := db.Vector(ctx, t.ID, postgres.VectorQuery{Vector: v, Model: emb.Model(), Plan: p.plan, Limit: *k})
				took := time.Since(start)
				if err != nil {
					return err
				}
				switch p.name {
				case "vector":
					methods[r.Method]++
				case "vector exact":
					exact[i] = r.Hits
				case "vector hnsw":
					if timed {
						found += retrieval.Recalled(exact[i], r.Hits)
						total += len(exact[i])
					}
				}
				if timed {
					lat[p.name] = append(lat[p.name], took)
				}
			}
		}
	}
	rep := retrieval.Score(outs)
	fmt.Fprintf(e.stdout, "corpus        tenant %s: %d chunks; %d questions x %d rounds (after one warm-up); GOMAXPROCS %d\n",
		t.Name, st.Chunks, len(qs), *rounds, runtime.GOMAXPROCS(0))
	row := func(name, note string) {
		d := lat[name]
		fmt.Fprintf(e.stdout, "%-13s p50 %6.1f ms  p95 %6.1f ms  p99 %6.1f ms  %s\n", name,
			ms(retrieval.Percentile(d, 0.50)), ms(retrieval.Percentile(d, 0.95)), ms(retrieval.Percentile(d, 0.99)), note)
	}
	row("search", fmt.Sprintf("hybrid, as served (hit@5 %.3f, MRR@10 %.3f)", rep.All.Hit5, rep.All.MRR10))
	row("lexical", "BM25 half alone")
	row("vector", fmt.Sprintf("vector half alone, planned: %v", methods))
	row("vector exact", "baseline: every candidate scored")
	recall := 0.0
	if total > 0 {
		recall = float64(found) / float64(total)
	}
	row("vector hnsw", fmt.Sprintf("index always; recall@%d %.3f against exact", *k, recall))
	return nil
}
