package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/reconcile"
)

// startHTTP serves /healthz, /readyz, /metrics and a read-only /status page on addr
// (loopback by default: it says which repos and clusters exist).
func startHTTP(addr string, a *app, sshReady *atomic.Bool, log zerolog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		problems := readiness(r.Context(), a, sshReady)
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:")
			for _, p := range problems {
				fmt.Fprintln(w, "- "+p)
			}
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := reconcile.WriteStatusPage(w, reconcile.Configured(a.config(), a.store.All()), time.Now()); err != nil {
			log.Warn().Err(err).Msg("status page")
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("http server stopped")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("http listening (/healthz /readyz /metrics /status)")
	return srv, nil
}

// readiness lists what keeps the daemon from being ready: SSH not serving, a status
// that cannot be written, or clusters whose API server does not answer.
func readiness(ctx context.Context, a *app, sshReady *atomic.Bool) []string {
	var problems []string
	if !sshReady.Load() {
		problems = append(problems, "ssh: not serving")
	}
	if err := a.store.WriteErr(); err != nil {
		problems = append(problems, "status: cannot be written ("+firstLine(err.Error())+")")
	}
	names := a.clusters.Names()
	sort.Strings(names)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.clusters.Ping(ctx, name, 3*time.Second); err != nil {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("cluster %s: unreachable (%s)", name, firstLine(err.Error())))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Strings(problems)
	return problems
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
