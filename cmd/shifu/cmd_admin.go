package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/postgres"
)

func cmdKeygen(e *env) error {
	fmt.Fprintln(e.stdout, keyring.Generate())
	return nil
}

func cmdMigrate(ctx context.Context, e *env) error {
	c, err := e.config()
	if err != nil {
		return err
	}
	owner, err := e.ownerURL("migrate (a role that may create extensions and roles)")
	if err != nil {
		return err
	}
	applied, err := postgres.Migrate(ctx, owner)
	if err != nil {
		return err
	}
	if p := c.AppPassword.Value(); p != "" {
		if err := postgres.SetAppPassword(ctx, owner, p); err != nil {
			return err
		}
	}
	if len(applied) == 0 {
		fmt.Fprintf(e.stdout, "schema is current (version %d)\n", postgres.Latest())
	} else {
		fmt.Fprintf(e.stdout, "applied migrations %v; schema is at version %d\n", applied, postgres.Latest())
	}
	return nil
}

func cmdTenant(ctx context.Context, e *env, args []string) error {
	if len(args) != 2 || args[0] != "create" {
		return shifu.Errorf(shifu.ErrInvalid, "usage: shifu tenant create NAME")
	}
	c, err := e.config()
	if err != nil {
		return err
	}
	m, err := keyring.ParseMaster(c.MasterKey.Value())
	if err != nil {
		return err
	}
	name := args[1]
	wrapped, err := m.NewDataKey(name)
	if err != nil {
		return err
	}
	owner, err := e.ownerURL("tenant create")
	if err != nil {
		return err
	}
	t, err := postgres.CreateTenant(ctx, owner, name, wrapped)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "tenant %s created (id %d)\n", t.Name, t.ID)
	return nil
}

// flags returns a FlagSet that reports errors instead of exiting, and prints
// its usage to stderr.
func flags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parseFlags parses and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(interleave(fs, args)); err != nil {
		return shifu.Errorf(shifu.ErrInvalid, "%s: %v", fs.Name(), err)
	}
	return nil
}

// interleave moves flags after positional arguments to the front, so
// `shifu ingest docs/ --tenant acme` works like `shifu ingest --tenant acme docs/`.
func interleave(fs *flag.FlagSet, args []string) []string {
	var fl, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			fl = append(fl, a)
			name := a[1:]
			if len(name) > 0 && name[0] == '-' {
				name = name[1:]
			}
			if f := fs.Lookup(name); f != nil && !isBool(f) && i+1 < len(args) {
				fl = append(fl, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(fl, pos...)
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
