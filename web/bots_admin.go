package web

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
)

// BotAdmin manages a tenant's chat-bot installations (bot.Service, adapted in
// cmd). The tenant is always the caller's, from the session or token.
type BotAdmin interface {
	List(ctx context.Context, tenant int64) ([]shifu.Bot, error)
	// Add (which checks and seals the credentials) and Remove are audited
	// as by.
	Add(ctx context.Context, tenant int64, c bot.Credentials, by shifu.Actor) (shifu.Bot, error)
	// Remove deletes the tenant's installation id; another tenant's id is
	// ErrNotFound.
	Remove(ctx context.Context, tenant, id int64, by shifu.Actor) error
}

// botAdmin is the configured BotAdmin, or a 503 answer when there is none.
func (s *Server) botAdmin(c *gin.Context) (BotAdmin, bool) {
	if s.o.BotAdmin == nil {
		s.fail(c, shifu.Errorf(shifu.ErrUnavailable, "bots are not available on this server"))
		return nil, false
	}
	return s.o.BotAdmin, true
}

func (s *Server) listBots(c *gin.Context) {
	ba, ok := s.botAdmin(c)
	if !ok {
		return
	}
	bots, err := ba.List(c, who(c).tenant())
	if err != nil {
		s.fail(c, err)
		return
	}
	if bots == nil {
		bots = []shifu.Bot{}
	}
	c.JSON(http.StatusOK, gin.H{"bots": bots})
}

// addBot installs a bot for the admin's own tenant; the secrets are sealed
// and never shown again.
func (s *Server) addBot(c *gin.Context) {
	ba, ok := s.botAdmin(c)
	if !ok {
		return
	}
	var req bot.Credentials
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	b, err := ba.Add(c, p.tenant(), req, p.actor())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"bot": b})
}

func (s *Server) removeBot(c *gin.Context) {
	ba, ok := s.botAdmin(c)
	if !ok {
		return
	}
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	if err := ba.Remove(c, p.tenant(), id, p.actor()); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

// BotService adapts the bots' shared core (bot) to BotAdmin. It
// lives here, beside the interface, so the server and the tests use the same
// adapter.
func BotService(s *bot.Service) BotAdmin { return botService{s} }

type botService struct{ s *bot.Service }

func (b botService) List(ctx context.Context, tenant int64) ([]shifu.Bot, error) {
	return b.s.Installations(ctx, tenant)
}

func (b botService) Add(ctx context.Context, tenant int64, c bot.Credentials, by shifu.Actor) (shifu.Bot, error) {
	return b.s.Install(ctx, tenant, c, by)
}

// Remove finds the installation among the tenant's own, so another tenant's
// id is not found.
func (b botService) Remove(ctx context.Context, tenant, id int64, by shifu.Actor) error {
	rows, err := b.s.Installations(ctx, tenant)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.ID == id {
			return b.s.Uninstall(ctx, tenant, r.Platform, r.ExternalID, by)
		}
	}
	return shifu.Errorf(shifu.ErrNotFound, "bot %d not found", id)
}
