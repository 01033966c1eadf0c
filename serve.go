package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/config"
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

// serve runs the daemon until ctx is cancelled.
func serve(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	if err := os.MkdirAll(cfg.Server.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	log.Info().Str("config", cfg.File).Str("data_dir", cfg.Server.DataDir).Int("repos", len(cfg.Repos)).Msg("gitopsd started")
	<-ctx.Done()
	log.Info().Msg("gitopsd stopped")
	return nil
}
