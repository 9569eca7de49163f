package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest"
	"github.com/shifu-factory/shifu/ingest/parse"
)

// cmdIngest stores every file under the paths and waits until each is ready
// or failed. Jobs run in this process (and in any running server), so the
// command works on its own. A bad file is reported and the rest go on; the
// exit status is non-zero if any file failed.
func cmdIngest(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "ingest")
	tenantName := fs.String("tenant", "", "tenant name")
	kind := fs.String("kind", "manual", "manual or note (notes: .csv or .md files of technician notes)")
	of := fs.Int64("revision-of", 0, "add the one FILE as the next version of document `ID`")
	label := fs.String("label", "", "revision label of the files, such as \"Rev C\"")
	yes := fs.Bool("yes", false, "with --revision-of: add the file even if it looks like a different manual")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return shifu.Errorf(shifu.ErrInvalid, "usage: shifu ingest --tenant NAME [--kind manual|note] PATH...  or  shifu ingest --tenant NAME --revision-of ID FILE")
	}
	if *of < 0 || *of > 0 && (fs.NArg() != 1 || *kind != string(shifu.KindManual)) {
		return shifu.Errorf(shifu.ErrInvalid, "--revision-of %d: give a document id (see shifu docs) and exactly one manual FILE", *of)
	}
	if k := shifu.DocKind(*kind); !k.Valid() {
		return shifu.Errorf(shifu.ErrInvalid, "--kind %q: accepted kinds are manual and note", *kind)
	}
	t, err := e.tenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	files, err := collect(fs.Args())
	if err != nil {
		return err
	}
	if slices.ContainsFunc(files, func(f string) bool { return strings.EqualFold(filepath.Ext(f), ".pdf") }) {
		p, err := e.parser(ctx)
		if err != nil {
			return err
		}
		p.Warm() // a hint only: any PDF, named so or not, starts it when parsed
	}
	// The workers start once every file is added: a file that an earlier,
	// killed run left unfinished is then found unfinished and reported as
	// resumed, not finished meanwhile by this run's own workers and called
	// unchanged.
	svc, start, err := e.ingestLater(ctx, 2)
	if err != nil {
		return err
	}

	out := newReporter(e.stdout)
	var ids []int64
	names := map[int64]string{}
	failed, unchanged := 0, 0
	for _, f := range files {
		docs, err := addFile(ctx, svc, t.ID, f, shifu.Upload{Kind: shifu.DocKind(*kind), Of: *of, Confirm: *yes, Revision: *label})
		if err != nil {
			failed++
			out.line(f, "failed", errMessage(err))
			continue
		}
		for _, d := range docs {
			if d.dup && d.doc.Status.Done() {
				unchanged++
				out.line(f, string(d.doc.Status), fmt.Sprintf("already stored (same bytes) as document %d version %d: nothing changed", d.doc.ID, d.doc.Version))
				continue
			}
			if d.dup {
				// Stored before but not finished (another process is on it, or
				// one that died left it): wait for it like a new one; this
				// process's workers resume it if nobody else does.
				out.line(f, string(d.doc.Status), "already stored, still being processed: waiting for it")
			}
			ids = append(ids, d.doc.VersionID)
			names[d.doc.VersionID] = f
		}
	}
	stop, err := start()
	if err != nil {
		return err
	}
	defer stop()
	final, err := svc.Wait(ctx, t.ID, ids, func(d shifu.Document) { out.progress(names[d.VersionID], d) })
	if err != nil {
		return err
	}
	ready := 0
	for _, d := range final {
		if d.Status == shifu.StatusFailed {
			failed++
			out.line(names[d.VersionID], "failed", d.Error)
		} else {
			ready++
			detail := fmt.Sprintf("%d pages, %d chunks, document %d version %d", d.Pages, d.Chunks, d.ID, d.Version)
			if st := d.Progress.Stages.String(); st != "" {
				detail += " (" + st + ")"
			}
			out.line(names[d.VersionID], "ready", detail)
		}
	}
	out.done()
	fmt.Fprintf(e.stdout, "%d ready, %d failed, %d unchanged\n", ready, failed, unchanged)
	if failed > 0 {
		return exitError(1)
	}
	return nil
}

type added struct {
	doc shifu.Document
	dup bool
}

// addFile stores one file; u gives everything but its name and bytes.
func addFile(ctx context.Context, svc *ingest.Service, tenant int64, path string, u shifu.Upload) ([]added, error) {
	if u.Kind == shifu.KindNote {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, shifu.Errorf(shifu.ErrInvalid, "%s: cannot read: %v", path, errors.Unwrap(err))
		}
		notes, err := readNotes(path, data)
		if err != nil {
			return nil, err
		}
		var out []added
		for _, n := range notes {
			d, dup, err := svc.AddNote(ctx, tenant, n, 0)
			if err != nil {
				return out, err
			}
			out = append(out, added{d, dup})
		}
		return out, nil
	}
	// A manual streams in: the pipeline holds a segment of it at a time.
	f, err := os.Open(path)
	if err != nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: cannot read: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	u.Name, u.Body = filepath.Base(path), f
	d, dup, err := svc.Add(ctx, tenant, u)
	if err != nil {
		return nil, err
	}
	return []added{{d, dup}}, nil
}

func readNotes(path string, data []byte) ([]shifu.Note, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return parse.ParseNotesCSV(filepath.Base(path), strings.NewReader(string(data)))
	case ".md", ".markdown":
		return parse.ParseNotesMarkdown(filepath.Base(path), data)
	}
	return nil, shifu.Errorf(shifu.ErrInvalid, "%s: notes are imported from .csv (title,equipment,symptom,cause,fix,author) or .md files", path)
}

// collect expands folders recursively, in a stable order.
func collect(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, shifu.Errorf(shifu.ErrInvalid, "%s: no such file or folder", p)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}

func cmdNote(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return shifu.Errorf(shifu.ErrInvalid, "usage: shifu note add --tenant NAME --title T --fix F --author A [--equipment E] [--symptom S] [--cause C]")
	}
	fs := flags(e, "note add")
	tenantName := fs.String("tenant", "", "tenant name")
	var n shifu.Note
	fs.StringVar(&n.Title, "title", "", "short title")
	fs.StringVar(&n.Equipment, "equipment", "", "machine or equipment tag")
	fs.StringVar(&n.Symptom, "symptom", "", "what the worker sees")
	fs.StringVar(&n.Cause, "cause", "", "why it happens")
	fs.StringVar(&n.Fix, "fix", "", "what to do")
	fs.StringVar(&n.Author, "author", "", "who knows this")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	t, err := e.tenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	svc, stop, err := e.startIngest(ctx, 1)
	if err != nil {
		return err
	}
	defer stop()
	d, dup, err := svc.AddNote(ctx, t.ID, n, 0)
	if err != nil {
		return err
	}
	if !dup {
		final, err := svc.Wait(ctx, t.ID, []int64{d.VersionID}, nil)
		if err != nil {
			return err
		}
		d = final[0]
	}
	fmt.Fprintf(e.stdout, "note %q: %s (document %d)\n", n.Title, d.Status, d.ID)
	return nil
}
