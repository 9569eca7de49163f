package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// cmdBench measures end-to-end ingest of one file (parse, clean, chunk, index,
// embed with the configured embedder, store) into a throw-away tenant, next to
// pdftotext on the same file in the same run, and reports peak memory.
func cmdBench(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "load" {
		return cmdBenchLoad(ctx, e, args[1:])
	}
	if len(args) != 2 || args[0] != "ingest" {
		return shifu.Errorf(shifu.ErrInvalid, "usage: shifu bench ingest FILE | shifu bench load --url http://127.0.0.1:PORT --token T")
	}
	path := args[1]
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
	t, err := postgres.CreateTenant(ctx, c.DatabaseURL.Value(), name, wrapped)
	if err != nil {
		return err
	}
	defer dropTenant(context.WithoutCancel(ctx), c.DatabaseURL.Value(), t.ID)

	setupStart := time.Now()
	// Builds the PDF engine and loads the dictionary outside the timed part.
	svc, stop, err := e.startIngest(ctx, 1)
	if err != nil {
		return err
	}
	defer stop()
	setup := time.Since(setupStart)

	start := time.Now()
	d, _, err := svc.Add(ctx, t.ID, ingest.Upload{Name: filepath.Base(path), Data: data})
	if err != nil {
		return err
	}
	final, err := svc.Wait(ctx, t.ID, []int64{d.ID}, nil)
	if err != nil {
		return err
	}
	took := time.Since(start)
	d = final[0]
	if d.Status != shifu.StatusReady {
		return fmt.Errorf("bench: %s did not ingest: %s", path, d.Error)
	}
	fmt.Fprintf(e.stdout, "file          %s (%.1f MB)\n", filepath.Base(path), float64(len(data))/1e6)
	fmt.Fprintf(e.stdout, "start-up      %v (PDF engine, Chinese dictionary, embedder; once per process)\n", setup.Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "ingest        %v: %d pages, %d chunks, %.0f pages/s (embedder %s)\n",
		took.Round(time.Millisecond), d.Pages, d.Chunks, float64(d.Pages)/took.Seconds(), c.Embed.Provider)
	if ref > 0 {
		fmt.Fprintf(e.stdout, "pdftotext     %v: %.0f pages/s; shifu/pdftotext time ratio %.2f\n",
			ref.Round(time.Millisecond), float64(d.Pages)/ref.Seconds(), took.Seconds()/ref.Seconds())
	}
	fmt.Fprintf(e.stdout, "peak RSS      %s\n", peakRSS())
	return nil
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
