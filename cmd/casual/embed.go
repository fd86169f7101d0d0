package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/web/ui"
)

// embedSigner picks who signs and checks the tokens of /embed/{app}. With
// accounts on, an embed is an accounts share of kind embed: signed, for one
// app, read or run, with an expiry, and revocable (accountsEmbeds). With
// auth off, web/ui signs its own HMAC tokens with --embed-key; nil lets ui
// pick a random key (tokens then die with the process).
func embedSigner(cfg Config, svc *accounts.Service) ui.TokenSigner {
	if cfg.Auth {
		return accountsEmbeds{svc: svc}
	}
	if cfg.EmbedKey == "" {
		return nil
	}
	return ui.HMACSigner{Key: []byte(cfg.EmbedKey)}
}

// accountsEmbeds checks embed tokens against the accounts service: the
// token must be a live share of kind embed (the same token then opens the
// sync socket, where the accounts Authorizer grants it read access).
// Tokens are issued by POST /v1/apps/{id}/shares, so Sign refuses.
type accountsEmbeds struct{ svc *accounts.Service }

// anyOrigin: accounts shares name no sites, so any page may frame the
// embed; the token is the capability, and revoking the share ends it.
var anyOrigin = []string{"*"}

// Sign implements ui.TokenSigner: embeds are shares made by the app's
// admins through the accounts API.
func (accountsEmbeds) Sign(ui.EmbedClaims) (string, error) {
	return "", ui.ErrSigningUnavailable
}

// Verify implements ui.TokenSigner.
func (a accountsEmbeds) Verify(ctx context.Context, token string) (ui.EmbedClaims, error) {
	p, err := a.svc.Authenticate(ctx, token)
	switch {
	case errors.Is(err, accounts.ErrTokenExpired):
		return ui.EmbedClaims{}, fmt.Errorf("%w: %v", ui.ErrTokenExpired, err)
	case errors.Is(err, accounts.ErrTokenRevoked):
		return ui.EmbedClaims{}, fmt.Errorf("%w: %v", ui.ErrTokenRevoked, err)
	case errors.Is(err, accounts.ErrTokenInvalid):
		return ui.EmbedClaims{}, fmt.Errorf("%w: %v", ui.ErrTokenSignature, err)
	case err != nil:
		return ui.EmbedClaims{}, fmt.Errorf("check embed token: %w", err)
	}
	sh := p.Share
	if sh == nil || sh.Kind != accounts.ShareEmbed {
		return ui.EmbedClaims{}, fmt.Errorf("%w: not an embed token", ui.ErrTokenMalformed)
	}
	mode := ui.ModeView
	switch sh.Mode {
	case accounts.ShareRead:
	case accounts.ShareRun:
		mode = ui.ModeRun
	default:
		return ui.EmbedClaims{}, fmt.Errorf("%w: embed share of mode %s", ui.ErrInvalidClaims, sh.Mode)
	}
	return ui.EmbedClaims{Version: 1, App: sh.AppID, Mode: mode, Origins: anyOrigin,
		Expires: sh.ExpiresAt.Unix(), Issued: sh.CreatedAt.Unix()}, nil
}
