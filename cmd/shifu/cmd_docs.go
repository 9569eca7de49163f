package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/text/width"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres"
)

func cmdDocs(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "docs")
	tenantName := fs.String("tenant", "", "tenant name")
	asJSON := fs.Bool("json", false, "print JSON")
	deleted := fs.Bool("deleted", false, "list the deleted documents that can still be restored")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	t, err := e.tenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	db, err := e.db(ctx)
	if err != nil {
		return err
	}
	docs, err := db.Documents(ctx, t.ID, *deleted)
	if err != nil {
		return err
	}
	if *asJSON {
		if docs == nil {
			docs = []shifu.Document{}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(docs) // the shape /api/documents sends
	}
	rows := [][]string{{"ID", "NAME", "STATUS", "VERSION", "VERSIONS", "PAGES", "CHUNKS", "NOTE"}}
	for _, d := range docs {
		note := d.Error
		if !d.DeletedAt.IsZero() {
			note = "deleted " + d.DeletedAt.Format("2006-01-02 15:04")
		} else if n := d.FiguresPending(); n > 0 {
			note = figuresNote(n)
		}
		for _, v := range d.Versions {
			if v.Version > d.Version && !v.Status.Done() {
				note = strings.TrimSpace(fmt.Sprintf("v%d %s %s", v.Version, v.Status, note))
			}
		}
		rows = append(rows, []string{strconv.FormatInt(d.ID, 10), d.Name, string(d.Status), "v" + strconv.Itoa(d.Version),
			strconv.Itoa(len(d.Versions)), strconv.Itoa(d.Pages), strconv.Itoa(d.Chunks), note})
	}
	table(e.stdout, rows, map[int]bool{0: true, 4: true, 5: true, 6: true})
	return nil
}

// table prints rows in columns aligned by their width on a terminal (East
// Asian wide characters take two cells), numbers right-aligned.
func table(w io.Writer, rows [][]string, right map[int]bool) {
	widths := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], cells(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-cells(c))
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			if right[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
			b.WriteString("  ")
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// cells is how many terminal cells s takes.
func cells(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// docFlags parses the --tenant and --doc flags every document command has.
func docFlags(ctx context.Context, e *env, name string, args []string, extra func(*flag.FlagSet)) (shifu.Tenant, int64, *postgres.DB, error) {
	fs := flags(e, name)
	tenantName := fs.String("tenant", "", "tenant name")
	id := fs.Int64("doc", 0, "document `ID` (see shifu docs)")
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return shifu.Tenant{}, 0, nil, err
	}
	if *id <= 0 || fs.NArg() > 0 {
		return shifu.Tenant{}, 0, nil, shifu.Errorf(shifu.ErrInvalid, "usage: %s", docUsage[name])
	}
	t, err := e.tenant(ctx, *tenantName)
	if err != nil {
		return t, 0, nil, err
	}
	db, err := e.db(ctx)
	return t, *id, db, err
}

var docUsage = map[string]string{
	"revert":  "shifu revert --tenant NAME --doc ID --version N",
	"delete":  "shifu delete --tenant NAME --doc ID",
	"restore": "shifu restore --tenant NAME --doc ID",
}

// cmdRevert makes a kept version of a document live again.
func cmdRevert(ctx context.Context, e *env, args []string) error {
	var version *int
	t, id, db, err := docFlags(ctx, e, "revert", args, func(fs *flag.FlagSet) {
		version = fs.Int("version", 0, "the kept version `N` to make live (see shifu docs --json)")
	})
	if err != nil {
		return err
	}
	if *version <= 0 {
		return shifu.Errorf(shifu.ErrInvalid, "--version %d: give the number of a kept version; usage: %s", *version, docUsage["revert"])
	}
	d, err := db.Revert(ctx, t.ID, id, *version, cliActor())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "document %d: version %d (%s) is live\n", id, d.Version, d.Name)
	return nil
}

// cmdDelete deletes a document softly (restorable until it is purged).
func cmdDelete(ctx context.Context, e *env, args []string) error {
	t, id, db, err := docFlags(ctx, e, "delete", args, nil)
	if err != nil {
		return err
	}
	d, err := db.Document(ctx, t.ID, id)
	if err != nil {
		return err
	}
	if err := db.DeleteDocument(ctx, t.ID, id, cliActor()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "document %d (%s) deleted: restore it with shifu restore --tenant %s --doc %d\n", id, d.Name, t.Name, id)
	return nil
}

// cmdRestore brings a deleted document back.
func cmdRestore(ctx context.Context, e *env, args []string) error {
	t, id, db, err := docFlags(ctx, e, "restore", args, nil)
	if err != nil {
		return err
	}
	if err := db.Restore(ctx, t.ID, id, cliActor()); err != nil {
		return err
	}
	d, err := db.Document(ctx, t.ID, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "document %d (%s) restored, version %d %s\n", id, d.Name, d.Version, d.Status)
	return nil
}
