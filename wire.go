package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/gitserver"
)

// buildHooks assembles what runs at pre-receive and post-receive. For now the built-in ref
// rules in gitserver are the only checks; validation and reconcile plug in here.
func buildHooks(ctx context.Context, cfg *config.Config, log zerolog.Logger) (gitserver.Hooks, error) {
	_, _, _ = ctx, cfg, log
	return gitserver.NopHooks{}, nil
}
