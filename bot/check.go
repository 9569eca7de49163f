package bot

import (
	"strings"

	"github.com/shifu-factory/shifu"
)

// Credentials are a new installation's ids and secrets, in the clear, as the
// admin page sends them (POST /api/bots) and `shifu bot add` reads them.
type Credentials struct {
	Platform string `json:"platform"`    // Slack or DingTalk
	External string `json:"external_id"` // Slack team id (T…, E… for Enterprise Grid), DingTalk AppKey
	Secret   string `json:"secret"`      // Slack signing secret or xapp- app-level token (Socket Mode), DingTalk AppSecret
	Token    string `json:"token"`       // Slack bot token xoxb-…; none for DingTalk
}

// Check trims c and says what is wrong with it, naming the credential and
// what is accepted. It is the one rule for every channel that installs a bot
// (the admin page, `shifu bot add`): Install applies it.
func (c *Credentials) Check() error {
	c.Platform = strings.ToLower(strings.TrimSpace(c.Platform))
	c.External = strings.TrimSpace(c.External)
	c.Secret = strings.TrimSpace(c.Secret)
	c.Token = strings.TrimSpace(c.Token)
	if len(c.External) > 200 || len(c.Secret) > 1000 || len(c.Token) > 1000 {
		return shifu.Errorf(shifu.ErrInvalid, "the bot's id (at most 200 bytes), secret or token (at most 1000) is too long")
	}
	switch c.Platform {
	case Slack:
		switch {
		case c.External == "":
			return shifu.Errorf(shifu.ErrInvalid, "the Slack team id is required (T…, or E… for Enterprise Grid)")
		case !strings.HasPrefix(c.External, "T") && !strings.HasPrefix(c.External, "E"):
			return shifu.Errorf(shifu.ErrInvalid, "the Slack team id %q: it starts with T (E for Enterprise Grid)", c.External)
		case c.Secret == "":
			return shifu.Errorf(shifu.ErrInvalid, "a secret is required: the Slack signing secret (Basic Information → Signing Secret), or an xapp- app-level token for Socket Mode")
		case !strings.HasPrefix(c.Token, "xoxb-"):
			return shifu.Errorf(shifu.ErrInvalid, "the Slack bot token is required: the bot user OAuth token, which starts with xoxb-")
		}
	case DingTalk:
		switch {
		case c.External == "":
			return shifu.Errorf(shifu.ErrInvalid, "the DingTalk robot's AppKey (Client ID) is required")
		case c.Secret == "":
			return shifu.Errorf(shifu.ErrInvalid, "a secret is required: the DingTalk robot's AppSecret (Client Secret)")
		case c.Token != "":
			return shifu.Errorf(shifu.ErrInvalid, "token: DingTalk robots have no bot token; leave it empty")
		}
	case "":
		return shifu.Errorf(shifu.ErrInvalid, "the platform is required: slack or dingtalk")
	default:
		return shifu.Errorf(shifu.ErrInvalid, "platform %q: use slack or dingtalk", c.Platform)
	}
	return nil
}
