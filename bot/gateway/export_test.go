package gateway

import (
	"context"

	"github.com/shifu-factory/shifu/bot"
)

// Connections lists the Slack teams and DingTalk apps Supervise connects.
func (g *Gateway) Connections(ctx context.Context, tenants []int64, dingtalkStream bool) (slackTeams, dingtalkApps []string, err error) {
	ins, err := g.connections(ctx, tenants, dingtalkStream)
	for _, in := range ins {
		if in.Platform == bot.Slack {
			slackTeams = append(slackTeams, in.External)
		} else {
			dingtalkApps = append(dingtalkApps, in.External)
		}
	}
	return slackTeams, dingtalkApps, err
}
