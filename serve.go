package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/desired"
	"github.com/gitopsd/gitopsd/gitserver"
	"github.com/gitopsd/gitopsd/sandbox"
)

func runServe(ctx context.Context, fs *flag.FlagSet, args []string) error {
	var lf logFlags
	lf.register(fs, "json")
	configPath := fs.String("config", "/etc/gitopsd/repos.yaml", "path of repos.yaml (re-read on SIGHUP)")
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

// shutdownGrace bounds how long running pushes and applies may finish after SIGTERM; the
// unit's TimeoutStopSec leaves room above it.
const shutdownGrace = 60 * time.Second

// serve runs the daemon until ctx is cancelled: the SSH Git server and its hook socket, the
// reconciler and drift scans, and the HTTP endpoints. SIGHUP re-reads cfg.File. On
// cancellation it stops accepting, lets running pushes and applies finish within
// shutdownGrace, and returns nil.
func serve(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	if err := os.MkdirAll(cfg.Server.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	log.Info().Str("config", cfg.File).Str("data_dir", cfg.Server.DataDir).Int("repos", len(cfg.Repos)).Str("version", version).Msg("gitopsd started")
	for _, err := range desired.CheckIdentities(cfg) {
		log.Error().Err(err).Msg("age identities unreadable: pushes with SOPS files to this environment are refused until they are")
	}
	// The first push's render does not wait for a render process to start either.
	go func() {
		if err := sandbox.Warm(); err != nil {
			log.Error().Err(err).Msg("render sandbox: no render process starts; pushes to environments are refused until one does")
		} else if err := sandbox.Isolation(); err != nil {
			log.Warn().Err(err).Msg("render sandbox: render processes share the daemon's network (no user namespace); they still have no credentials, no PATH and no files but the pushed tree")
		}
	}()

	// The reconciler outlives the SSH server by the grace: a push accepted just before
	// SIGTERM still gets its apply.
	appCtx, stopApp := context.WithCancel(context.Background())
	defer stopApp()
	a, err := buildHooks(appCtx, cfg, log)
	if err != nil {
		return err
	}

	var sshReady atomic.Bool
	httpSrv, err := startHTTP(cfg.Server.HTTPListen, a, &sshReady, log)
	if err != nil {
		return err
	}
	srv, err := gitserver.New(ctx, gitserver.Options{
		Config: cfg, Hooks: a, Log: log, Status: a.rec.Status, Operator: a.rec, Metrics: a.metrics.Sessions(), ShutdownGrace: shutdownGrace,
		LastApplied: func(repo, env string) string { return a.store.Get(repo, env).LastApplied },
		Recipients:  desired.Recipients,
		OnReady: func(net.Addr) {
			sshReady.Store(true)
			sdNotify(log, daemon.SdNotifyReady)
		},
	})
	if err != nil {
		return err
	}
	go watchdog(ctx, log)
	context.AfterFunc(ctx, a.rec.Stopping)
	go reloadOnHUP(ctx, cfg.File, srv, a, log)

	serveErr := srv.Serve(ctx)
	sdNotify(log, daemon.SdNotifyStopping)
	sshReady.Store(false)
	if serveErr != nil {
		return serveErr
	}
	// Running applies get what is left of the grace, then are cut; a cut apply is
	// resumed by the next start (its commit is not recorded as applied).
	idle, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	a.rec.Idle(idle)
	cancel()
	stopApp()
	a.rec.Wait()
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shut)
	log.Info().Msg("gitopsd stopped")
	return nil
}

// sdNotify tells systemd (when NOTIFY_SOCKET is set) about a state change.
func sdNotify(log zerolog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn().Err(err).Str("state", state).Msg("sd_notify failed")
	}
}

// watchdog pings systemd at half the unit's WatchdogSec, while the daemon runs.
func watchdog(ctx context.Context, log zerolog.Logger) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sdNotify(log, daemon.SdNotifyWatchdog)
		}
	}
}

// reloadOnHUP re-reads repos.yaml on SIGHUP. A file that does not load is refused with its
// errors in the log and the running configuration stays.
func reloadOnHUP(ctx context.Context, path string, srv *gitserver.Server, a *app, log zerolog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		sdNotify(log, daemon.SdNotifyReloading)
		cfg, err := config.Load(path)
		if err == nil {
			err = srv.Reload(ctx, cfg)
		}
		if err != nil {
			var list config.ErrorList
			if errors.As(err, &list) {
				for _, e := range list {
					log.Error().Str("file", e.File).Int("line", e.Line).Str("key", e.Key).Msg("reload refused: " + e.Msg)
				}
			} else {
				log.Error().Err(err).Msg("reload refused")
			}
			log.Warn().Str("config", path).Msg("configuration not reloaded: the previous one stays in force")
		} else {
			a.reload(cfg)
			log.Info().Str("config", path).Int("repos", len(cfg.Repos)).Int("users", len(cfg.Users)).Msg("configuration reloaded")
		}
		sdNotify(log, daemon.SdNotifyReady)
	}
}
