package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// PrometheusOptions configure StartPrometheus.
type PrometheusOptions struct {
	// BinDir holds the prometheus binary.
	BinDir string
	// Dir holds the configuration, the target file, the TSDB and the log. Empty: a new
	// temporary directory, removed by Stop.
	Dir string
	// Output also receives Prometheus's log (it is always written to LogFile); nil: only
	// the file.
	Output io.Writer
	// StartTimeout bounds the wait until Prometheus is ready.
	StartTimeout time.Duration
	// ScrapeInterval is how often each target is scraped (and rules evaluated).
	ScrapeInterval time.Duration
	// Targets are scraped from the start; SetTargets replaces them later.
	Targets []ScrapeTarget
}

// DefaultPrometheusOptions returns options with the binary in binDir and a one-second
// scrape interval, so that a rate over a few seconds has samples soon after a start.
func DefaultPrometheusOptions(binDir string) PrometheusOptions {
	return PrometheusOptions{BinDir: binDir, StartTimeout: 60 * time.Second, ScrapeInterval: time.Second}
}

// ScrapeTarget is one endpoint that serves Prometheus metrics over plain HTTP.
type ScrapeTarget struct {
	// Addr is host:port; the metrics are at /metrics.
	Addr string
	// Labels are added to every series scraped from the target.
	Labels map[string]string
}

// ScrapeJob is the job label of every series Prometheus scrapes from the targets.
const ScrapeJob = "gitopsd-test"

// Prometheus is a running Prometheus server, listening on loopback only, with no remote
// write, admin or lifecycle endpoints.
type Prometheus struct {
	// URL is the server's base URL (http://127.0.0.1:PORT) for the HTTP API.
	URL string
	// Dir holds the configuration, the target file, the TSDB and LogFile.
	Dir string
	// LogFile holds the server's log.
	LogFile string
	// ScrapeInterval is how often every target is scraped.
	ScrapeInterval time.Duration

	opts        PrometheusOptions
	removeDir   bool
	targetsFile string
	log         *os.File
	proc        *process
	targetsMu   sync.Mutex
	stopOnce    sync.Once
	stopResult  error
}

// StartPrometheus starts a Prometheus server on a free loopback port that scrapes
// opts.Targets, and waits until it is ready (/-/ready). Targets are read from a file
// (file_sd_configs) so that SetTargets changes them without a reload.
func StartPrometheus(ctx context.Context, opts PrometheusOptions) (_ *Prometheus, err error) {
	def := DefaultPrometheusOptions(opts.BinDir)
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = def.StartTimeout
	}
	if opts.ScrapeInterval <= 0 {
		opts.ScrapeInterval = def.ScrapeInterval
	}
	bin := filepath.Join(opts.BinDir, "prometheus")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w (%s)", ErrBinaryMissing, bin)
	}
	p := &Prometheus{opts: opts, Dir: opts.Dir, ScrapeInterval: opts.ScrapeInterval}
	if p.Dir == "" {
		if p.Dir, err = os.MkdirTemp("", "gitopsd-prometheus-"); err != nil {
			return nil, err
		}
		p.removeDir = true
	}
	defer func() {
		if err != nil {
			// The log goes with a temporary Dir: its end is the reason.
			if log := strings.TrimSpace(p.Log()); log != "" {
				lines := strings.Split(log, "\n")
				if len(lines) > 20 {
					lines = lines[len(lines)-20:]
				}
				err = fmt.Errorf("%w; the end of its log:\n%s", err, strings.Join(lines, "\n"))
			}
			p.Stop()
		}
	}()
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return nil, err
	}
	p.targetsFile = filepath.Join(p.Dir, "targets.json")
	if err := p.SetTargets(opts.Targets...); err != nil {
		return nil, err
	}
	configFile := filepath.Join(p.Dir, "prometheus.yml")
	if err := os.WriteFile(configFile, prometheusConfig(opts.ScrapeInterval, p.targetsFile), 0o600); err != nil {
		return nil, err
	}
	p.LogFile = filepath.Join(p.Dir, "prometheus.log")
	if p.log, err = os.OpenFile(p.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	var out io.Writer = p.log
	if opts.Output != nil {
		out = io.MultiWriter(p.log, opts.Output)
	}
	// Another process may take the free port before Prometheus binds it: try new ports.
	for attempt := 1; ; attempt++ {
		err = p.start(ctx, bin, configFile, out)
		if err == nil {
			return p, nil
		}
		if attempt == 3 || !strings.Contains(p.Log(), "address already in use") {
			return nil, err
		}
		p.proc = nil
	}
}

func (p *Prometheus) start(ctx context.Context, bin, configFile string, out io.Writer) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	p.URL = "http://" + addr
	args := []string{
		"--config.file=" + configFile,
		"--storage.tsdb.path=" + filepath.Join(p.Dir, "data"),
		"--web.listen-address=" + addr,
		// Scrape new targets within a fraction of a second instead of the default 5 s.
		"--scrape.discovery-reload-interval=200ms",
	}
	if p.proc, err = startProcess(bin, args, out); err != nil {
		return err
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	return waitFor(ctx, p.opts.StartTimeout, p.proc, "prometheus", func() bool {
		resp, err := hc.Get(p.URL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// prometheusConfig is the server's configuration: one job whose targets are in
// targetsFile. JSON is YAML, so no YAML library is needed to write it.
func prometheusConfig(interval time.Duration, targetsFile string) []byte {
	d := fmt.Sprintf("%dms", interval.Milliseconds())
	cfg := map[string]any{
		"global": map[string]any{
			"scrape_interval":     d,
			"scrape_timeout":      d,
			"evaluation_interval": d,
		},
		"scrape_configs": []any{map[string]any{
			"job_name": ScrapeJob,
			"file_sd_configs": []any{map[string]any{
				"files": []string{targetsFile},
				// The file is watched; the refresh is a safety net for a missed event.
				"refresh_interval": "1s",
			}},
		}},
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	return b
}

// SetTargets replaces the scraped targets. Prometheus notices the change within about a
// second; a query that needs the new target's series should poll for them.
func (p *Prometheus) SetTargets(targets ...ScrapeTarget) error {
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels,omitempty"`
	}
	groups := make([]group, 0, len(targets))
	for _, t := range targets {
		if t.Addr == "" {
			return errors.New("prometheus: scrape target without an address")
		}
		groups = append(groups, group{Targets: []string{t.Addr}, Labels: t.Labels})
	}
	b, err := json.Marshal(groups)
	if err != nil {
		return err
	}
	p.targetsMu.Lock()
	defer p.targetsMu.Unlock()
	// Written aside and renamed, so that Prometheus never reads half a file.
	tmp := p.targetsFile + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, p.targetsFile); err != nil {
		return fmt.Errorf("prometheus targets: %w", err)
	}
	return nil
}

// Log returns what the server has logged so far.
func (p *Prometheus) Log() string {
	if p.LogFile == "" {
		return ""
	}
	b, _ := os.ReadFile(p.LogFile)
	return string(b)
}

// Stop stops the server (SIGTERM, then SIGKILL after 15 s) and removes a temporary Dir,
// its log with it: read Log first. It is safe to call twice.
func (p *Prometheus) Stop() error {
	p.stopOnce.Do(func() {
		var errs []error
		if p.proc != nil {
			errs = append(errs, p.proc.stop(15*time.Second))
		}
		if p.log != nil {
			errs = append(errs, p.log.Close())
		}
		if p.removeDir {
			errs = append(errs, os.RemoveAll(p.Dir))
		}
		p.stopResult = errors.Join(errs...)
	})
	return p.stopResult
}
