package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
	"github.com/shifu-factory/shifu/bot/gateway"
)

const botUsage = `usage:
  shifu bot add slack --tenant NAME --team TEAM_ID --signing-secret S --bot-token xoxb-…
  shifu bot add slack --tenant NAME --team TEAM_ID --app-token xapp-… --bot-token xoxb-…   (Socket Mode)
  shifu bot add dingtalk --tenant NAME --app-key K --app-secret S
  shifu bot list --tenant NAME [--json]
  shifu bot remove slack --tenant NAME --team TEAM_ID
  shifu bot remove dingtalk --tenant NAME --app-key K
  shifu bot connect [slack:TEAM_ID | dingtalk:APP_KEY]...
      run Socket Mode (Slack, installed with --app-token) and Stream mode
      (DingTalk) for factories without a public URL, until interrupted;
      shifu serve connects the Slack Socket Mode installations by itself,
      and with SHIFU_DINGTALK_STREAM=1 every DingTalk one
A secret given as "-" is read from standard input (one line each, in flag order),
so it stays out of the shell history and the process list.`

// cmdBot manages Slack and DingTalk installations. Secrets are sealed under
// the tenant's data key before they reach the database.
func cmdBot(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return shifu.Errorf(shifu.ErrInvalid, "%s", botUsage)
	}
	fs := flags(e, "bot "+args[0])
	tenant := fs.String("tenant", "", "tenant NAME")
	team := fs.String("team", "", "Slack team (workspace) id, T…")
	signing := fs.String("signing-secret", "", "Slack signing secret")
	token := fs.String("bot-token", "", "Slack bot token, xoxb-…")
	appToken := fs.String("app-token", "", "Slack app-level token, xapp-… (Socket Mode, instead of --signing-secret)")
	appKey := fs.String("app-key", "", "DingTalk robot AppKey")
	appSecret := fs.String("app-secret", "", "DingTalk robot AppSecret")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if args[0] == "connect" {
		return botConnect(ctx, e, fs.Args())
	}
	platform := fs.Arg(0)
	t, err := e.tenant(ctx, *tenant)
	if err != nil {
		return err
	}
	core, err := e.botCore(ctx, nil, nil)
	if err != nil {
		return err
	}
	defer core.Close(context.Background())

	external := func() (string, error) {
		switch platform {
		case bot.Slack:
			return *team, nil
		case bot.DingTalk:
			return *appKey, nil
		}
		return "", shifu.Errorf(shifu.ErrInvalid, "platform %q: use slack or dingtalk\n%s", platform, botUsage)
	}

	switch args[0] {
	case "add":
		ext, err := external()
		if err != nil {
			return err
		}
		in := bufio.NewScanner(e.stdin)
		stdin := func(v *string, name string) error {
			if *v != "-" {
				return nil
			}
			if !in.Scan() {
				return shifu.Errorf(shifu.ErrInvalid, "--%s -: no line on standard input", name)
			}
			*v = strings.TrimSpace(in.Text())
			return nil
		}
		var secret, tok string
		if platform == bot.Slack {
			if err := stdin(signing, "signing-secret"); err != nil {
				return err
			}
			if err := stdin(appToken, "app-token"); err != nil {
				return err
			}
			if err := stdin(token, "bot-token"); err != nil {
				return err
			}
			switch {
			case *signing != "" && *appToken != "":
				return shifu.Errorf(shifu.ErrInvalid, "give --signing-secret (HTTP events) or --app-token (Socket Mode), not both")
			case *appToken != "" && !strings.HasPrefix(*appToken, "xapp-"):
				return shifu.Errorf(shifu.ErrInvalid, "--app-token: give the app-level token, which starts with xapp-")
			case *signing == "" && *appToken == "":
				return shifu.Errorf(shifu.ErrInvalid, "--signing-secret is required (Slack app → Basic Information → Signing Secret), or --app-token xapp-… for Socket Mode")
			case strings.HasPrefix(*signing, "xapp-"):
				return shifu.Errorf(shifu.ErrInvalid, "--signing-secret: that is an app-level token; pass it as --app-token for Socket Mode")
			}
			secret, tok = *signing+*appToken, *token
		} else {
			if err := stdin(appSecret, "app-secret"); err != nil {
				return err
			}
			secret = *appSecret
		}
		b, err := core.Install(ctx, t.ID, bot.Credentials{Platform: platform, External: ext, Secret: secret, Token: tok}, cliActor())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s bot %s added to tenant %s (id %d)\n", platform, ext, t.Name, b.ID)
		c, _ := e.config()
		if platform == bot.Slack && *appToken != "" {
			fmt.Fprintln(e.stdout, "Socket Mode: no public URL needed; shifu serve connects to Slack itself when it starts (restart a running server).")
		} else if platform == bot.Slack {
			fmt.Fprintf(e.stdout, "Events, interactivity and slash command URLs: %s/bots/slack/events, %s/bots/slack/interactions, %s/bots/slack/commands\n",
				c.PublicURL, c.PublicURL, c.PublicURL)
		} else {
			fmt.Fprintf(e.stdout, "Message receiving address (HTTP mode): %s/bots/dingtalk/%s/callback\n", c.PublicURL, ext)
			fmt.Fprintln(e.stdout, "Stream mode (no public URL): set the app to Stream mode and run shifu serve with SHIFU_DINGTALK_STREAM=1.")
		}
		return nil
	case "list":
		bots, err := core.Installations(ctx, t.ID)
		if err != nil {
			return err
		}
		if *asJSON {
			if bots == nil {
				bots = []shifu.Bot{}
			}
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(bots) // the shape /api/bots sends: never the secrets
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPLATFORM\tTEAM / APP KEY\tADDED")
		for _, b := range bots {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", b.ID, b.Platform, b.ExternalID, b.CreatedAt.Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "remove":
		ext, err := external()
		if err != nil {
			return err
		}
		if err := core.Uninstall(ctx, t.ID, platform, ext, cliActor()); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s bot %s removed from tenant %s\n", platform, ext, t.Name)
		return nil
	}
	return shifu.Errorf(shifu.ErrInvalid, "bot %q: use add, list or remove\n%s", args[0], botUsage)
}

// botCore is the bots' shared core over this process's database and keys.
func (e *env) botCore(ctx context.Context, asker bot.Asker, log *slog.Logger) (*bot.Service, error) {
	c, db, ring, err := e.base(ctx)
	if err != nil {
		return nil, err
	}
	return bot.New(db, ring, asker, bot.Options{PublicURL: c.PublicURL, Logger: log}), nil
}

// bots builds the /bots/ handler for `shifu serve` (web.Options.Bots). The
// caller closes it after the HTTP server has stopped, so answers in flight
// are drained.
func (e *env) bots(ctx context.Context, asker bot.Asker, log *slog.Logger) (*gateway.Gateway, error) {
	c, db, ring, err := e.base(ctx)
	if err != nil {
		return nil, err
	}
	return gateway.New(db, ring, asker, gateway.Config{PublicURL: c.PublicURL, SlackAPIURL: c.SlackAPIURL, DingTalkAPIURL: c.DingTalkAPIURL, Logger: log}), nil
}

// botConnect runs Socket Mode and Stream mode connections (no public URL
// needed) until ctx ends, then drains answers in flight.
func botConnect(ctx context.Context, e *env, names []string) error {
	var teams, apps []string
	for _, n := range names {
		platform, id, _ := strings.Cut(n, ":")
		switch {
		case platform == bot.Slack && id != "":
			teams = append(teams, id)
		case platform == bot.DingTalk && id != "":
			apps = append(apps, id)
		default:
			return shifu.Errorf(shifu.ErrInvalid, "bot connect %q: name installations as slack:TEAM_ID or dingtalk:APP_KEY", n)
		}
	}
	if len(teams)+len(apps) == 0 {
		return shifu.Errorf(shifu.ErrInvalid, "bot connect: name at least one installation (slack:TEAM_ID or dingtalk:APP_KEY)")
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	asker, err := e.asker(ctx, log)
	if err != nil {
		return err
	}
	gw, err := e.bots(ctx, asker, log)
	if err != nil {
		return err
	}
	defer func() {
		drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = gw.Close(drain)
	}()
	log.Info("bots connecting", "slack", teams, "dingtalk", apps)
	if err := gw.Connect(ctx, teams, apps); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
