package main

import (
	"context"
	"fmt"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/auth"
)

// cmdToken creates a bearer token for a user (API clients, scripts, bots).
// The token is printed once; only its SHA-256 is stored.
func cmdToken(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return shifu.Errorf(shifu.ErrInvalid, "usage: shifu token create --tenant NAME --user LOGIN [--name LABEL]")
	}
	fs := flags(e, "token create")
	tenantName := fs.String("tenant", "", "tenant name")
	login := fs.String("user", "", "login of the user the token acts as")
	label := fs.String("name", "", "what the token is for")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *login == "" {
		return shifu.Errorf(shifu.ErrInvalid, "--user LOGIN is required")
	}
	t, err := e.tenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	db, err := e.db(ctx)
	if err != nil {
		return err
	}
	u, _, err := db.UserByLogin(ctx, t.ID, *login)
	if err != nil {
		return err
	}
	token, hash := auth.NewToken()
	row, err := db.CreateToken(ctx, t.ID, u.ID, *label, hash, cliActor())
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, token)
	fmt.Fprintf(e.stderr, "token %d for %s (%s) in tenant %s; shown once, stored only as a hash\n", row.ID, u.Login, u.Role, t.Name)
	return nil
}
