package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/gitserver"
)

func runServe(ctx context.Context, fs *flag.FlagSet, args []string) error {
	var lf logFlags
	lf.register(fs, "json")
	configPath := fs.String("config", "/etc/gitopsd/repos.yaml", "path of repos.yaml")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := lf.logger(os.Stdout)
	if err != nil {
		return err
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, log)
}

// serve runs the daemon until ctx is cancelled: the SSH Git server and its hook socket.
// On cancellation it stops accepting and lets running pushes finish before returning.
func serve(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	if err := os.MkdirAll(cfg.Server.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	log.Info().Str("config", cfg.File).Str("data_dir", cfg.Server.DataDir).Int("repos", len(cfg.Repos)).Str("version", version).Msg("gitopsd started")
	hooks, err := buildHooks(ctx, cfg, log)
	if err != nil {
		return err
	}
	srv, err := gitserver.New(ctx, gitserver.Options{Config: cfg, Hooks: hooks, Log: log})
	if err != nil {
		return err
	}
	if err := srv.Serve(ctx); err != nil {
		return err
	}
	log.Info().Msg("gitopsd stopped")
	return nil
}
