package desired

import (
	"fmt"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/render"
	"github.com/gitopsd/gitopsd/secrets"
)

// Secrets turns env's secrets settings into render options: its identity files read now
// (at each render, so that a rotated file is used at once), its recipients (by default
// the identities' public keys). Nil when the environment has no secrets settings. The
// error names the identity entry and why, never the file's content.
func Secrets(env config.Environment) (*render.Secrets, error) {
	s := env.Secrets
	if s == nil {
		return nil, nil
	}
	out := &render.Secrets{Recipients: s.Recipients, RequireEncryption: s.Required(), CheckOnly: s.CheckOnly}
	if s.CheckOnly {
		return out, nil
	}
	var texts [][]byte
	for i, p := range s.Identities {
		b, err := config.ReadIdentityFile(p)
		if err != nil {
			return nil, fmt.Errorf("secrets.identities[%d]: %w", i, err)
		}
		texts = append(texts, b)
		out.Identities = append(out.Identities, string(b))
	}
	ids, err := secrets.ParseIdentities(texts...)
	if err != nil {
		return nil, fmt.Errorf("secrets.identities: %w", err)
	}
	if len(out.Recipients) == 0 {
		out.Recipients = ids.Recipients()
	}
	return out, nil
}

// Recipients are the age public keys writers must encrypt env's files to: the configured
// ones, or those of its identities.
func Recipients(env config.Environment) ([]string, error) {
	if env.Secrets == nil {
		return nil, nil
	}
	if len(env.Secrets.Recipients) > 0 {
		return env.Secrets.Recipients, nil
	}
	s, err := Secrets(env)
	if err != nil {
		return nil, err
	}
	return s.Recipients, nil
}

// secretsProblem is the render result of an environment whose identities cannot be read.
func secretsProblem(env config.Environment, err error) *render.Result {
	return &render.Result{Problems: []render.Problem{{File: env.Path, Rule: render.RuleSecretDecrypt,
		Message: "the daemon cannot read this environment's age identities: " + err.Error(),
		Hint:    "ask the operators to fix secrets.identities in repos.yaml (the push itself is not at fault)"}}}
}

// CheckIdentities reads the identity files of every environment of cfg that has some, as
// a render would, so that the daemon can say at start (and reload) which cannot be read,
// before a push finds out. One error per environment, naming it; never a key.
func CheckIdentities(cfg *config.Config) []error {
	var errs []error
	for rn, r := range cfg.Repos {
		for en, env := range r.Environments {
			if _, err := Secrets(env); err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", rn, en, err))
			}
		}
	}
	return errs
}
