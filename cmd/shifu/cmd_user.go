package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/auth"
)

// cmdUser creates a user. The password is read from stdin (first line) so it
// never appears in the process list or shell history; an interactive terminal
// or empty input gets a generated password, printed once.
func cmdUser(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "passwd" {
		return cmdUserPasswd(ctx, e, args[1:])
	}
	if len(args) > 0 && args[0] == "role" {
		return cmdUserRole(ctx, e, args[1:])
	}
	if len(args) == 0 || args[0] != "create" {
		return shifu.Errorf(shifu.ErrInvalid, "usage: shifu user create|passwd|role --tenant NAME --user LOGIN ... (see shifu help user)")
	}
	fs := flags(e, "user create")
	tenantName := fs.String("tenant", "", "tenant name")
	login := fs.String("user", "", "login name")
	role := fs.String("role", "worker", "worker, supervisor or admin")
	name := fs.String("name", "", "display name (defaults to the login)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if strings.TrimSpace(*login) == "" {
		return shifu.Errorf(shifu.ErrInvalid, "--user LOGIN is required")
	}
	r := shifu.Role(*role)
	if !r.Valid() {
		return shifu.Errorf(shifu.ErrInvalid, "--role %q: accepted roles are worker, supervisor and admin", *role)
	}
	pw, hash, generated, err := auth.Password(readPassword(e))
	if err != nil {
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
	display := strings.TrimSpace(*name)
	if display == "" {
		display = *login
	}
	u, err := db.CreateUser(ctx, t.ID, shifu.User{Login: strings.TrimSpace(*login), Name: display, Role: r}, hash, cliActor())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s (%s) created in tenant %s\n", u.Login, u.Role, t.Name)
	if generated {
		fmt.Fprintf(e.stdout, "password: %s\n(shown once; it is stored only as a hash)\n", pw)
	}
	return nil
}

// userFlags parses --tenant and --user and finds the user, enabled or not.
func userFlags(ctx context.Context, e *env, name string, args []string, extra func(*flag.FlagSet)) (shifu.Tenant, int64, string, error) {
	fs := flags(e, name)
	tenantName := fs.String("tenant", "", "tenant name")
	login := fs.String("user", "", "login name")
	if extra != nil {
		extra(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return shifu.Tenant{}, 0, "", err
	}
	if strings.TrimSpace(*login) == "" || fs.NArg() > 0 {
		return shifu.Tenant{}, 0, "", shifu.Errorf(shifu.ErrInvalid, "--user LOGIN is required; usage: shifu %s --tenant NAME --user LOGIN", name)
	}
	t, err := e.tenant(ctx, *tenantName)
	if err != nil {
		return t, 0, "", err
	}
	db, err := e.db(ctx)
	if err != nil {
		return t, 0, "", err
	}
	id, err := db.UserIDByLogin(ctx, t.ID, strings.TrimSpace(*login))
	return t, id, strings.TrimSpace(*login), err
}

// cmdUserPasswd resets a user's password: the first line of stdin, or a
// generated one printed once. The user's sessions end.
func cmdUserPasswd(ctx context.Context, e *env, args []string) error {
	t, id, login, err := userFlags(ctx, e, "user passwd", args, nil)
	if err != nil {
		return err
	}
	pw, hash, generated, err := auth.Password(readPassword(e))
	if err != nil {
		return err
	}
	db, err := e.db(ctx)
	if err != nil {
		return err
	}
	if err := db.SetPassword(ctx, t.ID, id, hash, 0, cliActor()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "password of %s reset; their sessions have ended\n", login)
	if generated {
		fmt.Fprintf(e.stdout, "password: %s\n(shown once; it is stored only as a hash)\n", pw)
	}
	return nil
}

// cmdUserRole changes a user's role.
func cmdUserRole(ctx context.Context, e *env, args []string) error {
	var role *string
	t, id, login, err := userFlags(ctx, e, "user role", args, func(fs *flag.FlagSet) {
		role = fs.String("role", "", "worker, supervisor or admin")
	})
	if err != nil {
		return err
	}
	db, err := e.db(ctx)
	if err != nil {
		return err
	}
	u, err := db.SetRole(ctx, t.ID, id, shifu.Role(*role), cliActor())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s is now %s\n", login, u.Role)
	return nil
}

// readPassword is the first line of stdin; "" (a password is generated)
// when stdin is a terminal or empty.
func readPassword(e *env) string {
	if f, ok := e.stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return ""
		}
	}
	if e.stdin == nil {
		return ""
	}
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	return strings.TrimRight(line, "\r\n")
}
