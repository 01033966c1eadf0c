package reconcile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/gitopsd/gitopsd/outcome"
)

// Status is what gitopsd knows about one environment. It is kept on disk so that a restart
// knows what was applied, and shown by `ssh git@host status`.
type Status struct {
	Repo    string `json:"repo"`
	Env     string `json:"env"`
	Branch  string `json:"branch"`
	Cluster string `json:"cluster"`

	// Outcome is how the last reconcile ended (see package outcome), and when.
	Outcome   outcome.Outcome `json:"outcome,omitempty"`
	OutcomeAt time.Time       `json:"outcome_at,omitzero"`

	// LastSeen is the newest commit of the branch gitopsd was told about.
	LastSeen   string    `json:"last_seen,omitempty"`
	LastSeenAt time.Time `json:"last_seen_at,omitzero"`
	// LastApplied is the newest commit applied to the cluster (healthy or not).
	LastApplied   string    `json:"last_applied,omitempty"`
	LastAppliedAt time.Time `json:"last_applied_at,omitzero"`
	// LastHealthy is the newest applied commit whose objects all became ready.
	LastHealthy   string    `json:"last_healthy,omitempty"`
	LastHealthyAt time.Time `json:"last_healthy_at,omitzero"`

	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Waiting says why a commit is not applied yet (cluster unreachable, retry at ...).
	Waiting string `json:"waiting,omitempty"`
	// Inventory counts the objects the environment owns.
	Objects int `json:"objects"`
	// Digest is desired.Digest of what LastApplied renders: a later commit of a shared
	// branch with the same digest does not change the environment.
	Digest string `json:"digest,omitempty"`

	// DriftSchedule is the environment's drift.schedule in the configuration in force
	// ("" when it has none); Readable fills it in, it is not stored.
	DriftSchedule string    `json:"-"`
	DriftScanAt   time.Time `json:"drift_scan_at,omitzero"`
	// DriftCorrectedBy is the commit whose apply took back what the last scan found
	// drifted (every apply takes back the fields git declares), and when; Drifted is then
	// empty until the next scan.
	DriftCorrectedBy string    `json:"drift_corrected_by,omitempty"`
	DriftCorrectedAt time.Time `json:"drift_corrected_at,omitzero"`
	// Drifted lists objects (and fields) found different from the branch at the last scan.
	Drifted []string `json:"drifted,omitempty"`
	// RolledBack says what the last rollback did: set when a commit failed health and a
	// revert of it was applied, or a revert was asked by hand; cleared by the next commit
	// applied and healthy.
	RolledBack string `json:"rolled_back,omitempty"`
	// Release says where the release of a commit is (see package rollout), while it runs.
	Release string `json:"release,omitempty"`
	// Deleted says the branch was deleted and what became of the objects; a later push
	// that brings the branch back clears it.
	Deleted string `json:"deleted,omitempty"`
}

// Key names an environment: repo/env.
func (s Status) Key() string { return s.Repo + "/" + s.Env }

// Store keeps Status per environment in memory and in one JSON file per environment.
// Writes go to a temporary file that is synced and renamed over the old one, so a crash
// leaves either the old or the new status, never half of one.
type Store struct {
	dir string
	log zerolog.Logger
	mu  sync.Mutex
	m   map[string]Status
	// writeErr is the last write's failure, nil once a write succeeds again: a disk that
	// is full or gone must show (in /readyz), since the status is what a restart resumes from.
	writeErr error
}

// OpenStore reads every status file under dir (created if missing).
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	s := &Store{dir: dir, log: zerolog.Nop(), m: map[string]Status{}}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
		var st Status
		if err := json.Unmarshal(data, &st); err != nil {
			// A corrupt file loses history, not correctness: the next reconcile compares
			// the branch with the cluster anyway.
			continue
		}
		s.m[st.Key()] = st
	}
	return s, nil
}

// SetLog sets where failed writes are logged.
func (s *Store) SetLog(log zerolog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = log
}

// WriteErr is the failure of the last status write, or nil if it succeeded.
func (s *Store) WriteErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeErr
}

// Get returns the status of repo/env.
func (s *Store) Get(repo, env string) Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[repo+"/"+env]
	if !ok {
		st = Status{Repo: repo, Env: env}
	}
	return st
}

// All returns every status, sorted by key.
func (s *Store) All() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.m))
	for _, st := range s.m {
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Update changes the status of repo/env with fn and writes it durably.
func (s *Store) Update(repo, env string, fn func(*Status)) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[repo+"/"+env]
	if !ok {
		st = Status{Repo: repo, Env: env}
	}
	fn(&st)
	s.m[st.Key()] = st
	err := s.write(st)
	if err != nil {
		s.log.Error().Err(err).Str("repo", repo).Str("env", env).Str("dir", s.dir).Msg("status write failed")
	} else if s.writeErr != nil {
		s.log.Info().Str("repo", repo).Str("env", env).Msg("status written again")
	}
	s.writeErr = err
	return st, err
}

func (s *Store) write(st Status) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	name := filepath.Join(s.dir, fileName(st.Repo, st.Env))
	tmp, err := os.CreateTemp(s.dir, ".status-*")
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("status: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("status: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return nil
}

// fileName maps repo/env to a file name; repo names may hold '/', which becomes "%2F".
func fileName(repo, env string) string {
	esc := func(s string) string {
		out := make([]byte, 0, len(s))
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '/' || c == '%' {
				out = append(out, fmt.Sprintf("%%%02X", c)...)
				continue
			}
			out = append(out, c)
		}
		return string(out)
	}
	return esc(repo) + "@" + esc(env) + ".json"
}
