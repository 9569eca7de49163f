package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/shifu-factory/shifu"
)

// cmdGlossary manages a tenant's own jargon, which search applies to
// questions at query time (retrieval: Store.Glossary).
func cmdGlossary(ctx context.Context, e *env, args []string) error {
	const use = "usage: shifu glossary add --tenant NAME TERM MEANING | list --tenant NAME [--json] | remove --tenant NAME ID"
	if len(args) == 0 {
		return shifu.Errorf(shifu.ErrInvalid, "%s", use)
	}
	sub := args[0]
	if sub != "add" && sub != "list" && sub != "remove" {
		return shifu.Errorf(shifu.ErrInvalid, "glossary %q: want add, list or remove; %s", sub, use)
	}
	fs := flags(e, "glossary "+sub)
	tenantName := fs.String("tenant", "", "tenant name")
	asJSON := fs.Bool("json", false, "list: one JSON array")
	if err := parseFlags(fs, args[1:]); err != nil {
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
	switch sub {
	case "add":
		if fs.NArg() != 2 {
			return shifu.Errorf(shifu.ErrInvalid, "glossary add takes the term and what it means, quoted: shifu glossary add --tenant %s 对刀 \"tool touch-off\"", t.Name)
		}
		g := shifu.GlossaryEntry{Term: fs.Arg(0), Means: fs.Arg(1)}
		if err := g.Check(); err != nil {
			return err
		}
		g, err := db.AddGlossary(ctx, t.ID, g, cliActor())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d\t%s\t%s\n", g.ID, g.Term, g.Means)
	case "list":
		gs, err := db.Glossary(ctx, t.ID)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(gs)
		}
		for _, g := range gs {
			fmt.Fprintf(e.stdout, "%d\t%s\t%s\n", g.ID, g.Term, g.Means)
		}
	case "remove":
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if fs.NArg() != 1 || err != nil || id <= 0 {
			return shifu.Errorf(shifu.ErrInvalid, "glossary remove takes the entry's id (first column of shifu glossary list)")
		}
		if err := db.RemoveGlossary(ctx, t.ID, id, cliActor()); err != nil {
			return err
		}
	}
	return nil
}
