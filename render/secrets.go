package render

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/gitopsd/gitopsd/secrets"
)

// Rules of secrets in git (see Secrets).
const (
	RuleSecretPlain      = "secret-plaintext"  // a Secret's values, or a secretGenerator's, are in git unencrypted
	RuleSecretRecipients = "secret-recipients" // a SOPS file is not encrypted to the environment's recipients
	RuleSecretTampered   = "secret-tampered"   // a SOPS file's MAC does not verify: changed after encryption
	RuleSecretDecrypt    = "secret-decrypt"    // a SOPS file cannot be decrypted (no identity opens it, malformed)
)

// Keys are the text of age identity files (AGE-SECRET-KEY-1... lines). They cross to the
// render process with its request, on a pipe, and live in memory only. Formatting them
// prints how many there are, never the keys.
type Keys []string

func (k Keys) String() string   { return fmt.Sprintf("[%d age identity files]", len(k)) }
func (k Keys) GoString() string { return k.String() }

// Secrets say how Render treats SOPS-encrypted files. Every file read (manifests,
// Kustomize resources and generator inputs, Helm values and chart files) that is a SOPS
// file is decrypted in memory as it is read; the renderers see only the clear text.
type Secrets struct {
	// Identities open the files; Recipients are the age public keys a file must be
	// encrypted to (at least one of them).
	Identities Keys
	Recipients []string
	// RequireEncryption refuses a Secret whose values are in clear in git: a Secret
	// manifest not in a SOPS file, a Kustomize secretGenerator with literals or reading a
	// file that is not SOPS, and a Helm Secret when no values file of the chart is SOPS.
	RequireEncryption bool
	// CheckOnly decrypts nothing (no key at hand: `gitopsd validate` without one) and
	// checks the rules that need no key; SOPS files render with their values encrypted.
	CheckOnly bool
}

// secretState is what one render learned about secrets: which files were SOPS files and
// the values decrypted from them.
type secretState struct {
	mu        sync.Mutex
	parsed    bool
	ids       *secrets.Identities
	idsErr    error
	decrypted map[string]bool
	values    []string
	// byFile are the values each file had encrypted, to tell a Secret whose values the
	// file left in clear (an encrypted_regex that misses them).
	byFile map[string]map[string]bool
}

func (r *renderer) secretOptions() (secrets.Options, error) {
	s := r.sec
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := r.opts.Secrets
	if cfg == nil {
		return secrets.Options{}, nil
	}
	if !s.parsed {
		s.parsed = true
		texts := make([][]byte, len(cfg.Identities))
		for i, k := range cfg.Identities {
			texts[i] = []byte(k)
		}
		s.ids, s.idsErr = secrets.ParseIdentities(texts...)
	}
	return secrets.Options{Identities: s.ids, Recipients: cfg.Recipients, CheckOnly: cfg.CheckOnly}, s.idsErr
}

// open returns a file's content for the renderers: a SOPS file decrypted (nil after
// reporting a problem to ps), any other file as it is. Safe for concurrent use with its
// own ps.
func (r *renderer) open(name string, data []byte, ps *problems) []byte {
	f, ok := secrets.Detect(name, data)
	if !ok {
		return data
	}
	opts, err := r.secretOptions()
	if err != nil {
		ps.add(Problem{File: name, Rule: RuleSecretDecrypt, Message: "the daemon's age identities for this environment cannot be read",
			Hint: "ask the operators: secrets.identities in repos.yaml names a file that is not an age identity file"})
		return nil
	}
	file, err := secrets.Open(data, f, opts)
	if err != nil {
		ps.add(r.secretProblem(name, file, err))
		return nil
	}
	s := r.sec
	s.mu.Lock()
	s.decrypted[name] = true
	s.values = append(s.values, file.Values...)
	if s.byFile == nil {
		s.byFile = map[string]map[string]bool{}
	}
	enc := make(map[string]bool, len(file.Values))
	for _, v := range file.Values {
		enc[v] = true
	}
	s.byFile[name] = enc
	s.mu.Unlock()
	return file.Plain
}

func (r *renderer) wasEncrypted(name string) bool {
	r.sec.mu.Lock()
	defer r.sec.mu.Unlock()
	return r.sec.decrypted[path.Clean(name)]
}

// encryptHint is the command that encrypts file for the environment.
func (r *renderer) encryptHint(file string, manifest bool) string {
	rcpt := "<recipient>"
	if r.opts.Secrets != nil && len(r.opts.Secrets.Recipients) > 0 {
		rcpt = strings.Join(r.opts.Secrets.Recipients, ",")
	}
	flags := ""
	if manifest {
		flags = " --encrypted-regex '^(data|stringData)$'"
	}
	return fmt.Sprintf("sops --encrypt --age %s%s --in-place %s (ssh <host> recipients <repo> <env> prints the recipients)", rcpt, flags, path.Base(file))
}

func (r *renderer) secretProblem(name string, f *secrets.File, err error) Problem {
	p := Problem{File: name, Message: "SOPS file " + err.Error()}
	manifest := isManifestName(name)
	if f != nil && f.Kind != "" && f.Name != "" {
		ns := f.Namespace
		if ns == "" {
			ns = r.opts.DefaultNamespace
		}
		p.Object = f.Kind + "/" + f.Name
		if ns != "" {
			p.Object = f.Kind + "/" + ns + "/" + f.Name
		}
	}
	switch {
	case errors.Is(err, secrets.ErrRecipients):
		p.Rule = RuleSecretRecipients
		p.Hint = "re-encrypt it for this environment: " + r.encryptHint(name, manifest)
	case errors.Is(err, secrets.ErrTampered):
		p.Rule = RuleSecretTampered
		p.Hint = "edit encrypted files with `sops " + path.Base(name) + "` only; or encrypt the clear text again: " + r.encryptHint(name, manifest)
	case errors.Is(err, secrets.ErrDecrypt) && (r.opts.Secrets == nil || len(r.opts.Secrets.Identities) == 0):
		p.Rule = RuleSecretDecrypt
		p.Hint = "this environment has no age identity (secrets.identities in repos.yaml): ask the operators to give it one"
	default:
		p.Rule = RuleSecretDecrypt
		p.Hint = "encrypt it to this environment's recipients: " + r.encryptHint(name, manifest)
	}
	return p
}

// plainSecrets reports the Secrets whose values are in clear in git, when the
// environment requires encryption. Kustomize's generated Secrets were judged by their
// generators (checkGenerators); a Helm chart's Secrets pass when a values file of the
// render was a SOPS file (whether a template's value came from it cannot be told).
func (r *renderer) plainSecrets(typ string, objs []Object) []Problem {
	if r.opts.Secrets == nil || !r.opts.Secrets.RequireEncryption {
		return nil
	}
	r.sec.mu.Lock()
	anyEncrypted := len(r.sec.decrypted) > 0
	r.sec.mu.Unlock()
	var ps []Problem
	for _, o := range objs {
		if !isSecretObject(o) || !hasValues(o) {
			continue
		}
		switch {
		case typ == TypeHelm:
			if anyEncrypted {
				continue
			}
			ps = append(ps, o.problem(RuleSecretPlain, "Secret rendered from values in clear: no values file of the chart is SOPS-encrypted",
				"keep its values in a values file encrypted for the environment: "+r.encryptHint("values-secret.yaml", false)))
		case typ == TypeKustomize && isKustomization(o.Source.File):
			// a generated Secret: see checkGenerators
		case !r.wasEncrypted(o.Source.File):
			ps = append(ps, o.problem(RuleSecretPlain, "Secret in plain text: its values would sit in git unencrypted",
				"encrypt the file for the environment: "+r.encryptHint(o.Source.File, true)))
		default:
			if clear := r.clearValues(o); len(clear) > 0 {
				ps = append(ps, o.problem(RuleSecretPlain, fmt.Sprintf("Secret in a SOPS file with values left in clear: %s", strings.Join(clear, ", ")),
					"encrypt its data and stringData: "+r.encryptHint(o.Source.File, true)))
			}
		}
	}
	return ps
}

// clearValues names the data and stringData keys of o, from a SOPS file, whose values the
// file did not have encrypted.
func (r *renderer) clearValues(o Object) []string {
	r.sec.mu.Lock()
	enc := r.sec.byFile[path.Clean(o.Source.File)]
	r.sec.mu.Unlock()
	checkOnly := r.opts.Secrets != nil && r.opts.Secrets.CheckOnly
	var clear []string
	for _, f := range []string{"data", "stringData"} {
		m, ok := o.Object[f].(map[string]any)
		if !ok {
			if o.Object[f] != nil {
				clear = append(clear, f)
			}
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			// Still encrypted: a check-only render (no key) keeps the values as they are.
			v := fmt.Sprint(m[k])
			if m[k] != nil && !enc[v] && !(checkOnly && strings.HasPrefix(v, "ENC[")) {
				clear = append(clear, f+"."+k)
			}
		}
	}
	return clear
}

func isSecretObject(o Object) bool {
	return o.GetKind() == "Secret" && (o.GetAPIVersion() == "v1" || strings.HasPrefix(o.GetAPIVersion(), "/"))
}

// hasValues says whether a Secret holds any value (an empty Secret hides nothing).
func hasValues(o Object) bool {
	for _, f := range []string{"data", "stringData"} {
		switch v := o.Object[f].(type) {
		case nil:
		case map[string]any:
			if len(v) > 0 {
				return true
			}
		default:
			return true
		}
	}
	return false
}
