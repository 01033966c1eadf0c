package render

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

// generator is a secretGenerator entry of a kustomization.
type generator struct {
	Name      string   `yaml:"name"`
	Namespace string   `yaml:"namespace"`
	Literals  []string `yaml:"literals"`
	Envs      []string `yaml:"envs"`
	Env       string   `yaml:"env"`
	Files     []string `yaml:"files"`
}

// checkGenerators judges the Secrets Kustomize generated: a generator's literals are
// plain text in git, and so is any env or file input that was not a SOPS file. It also
// names the generated Secret in the problems of its SOPS inputs, which were reported as
// they were read, before anyone knew what they were for.
func (r *renderer) checkGenerators(objs []Object) {
	done := map[string]bool{}
	for _, o := range objs {
		k := o.Source.File
		if !isSecretObject(o) || !isKustomization(k) || done[k] {
			continue
		}
		done[k] = true
		// The file as pushed (the top one was rewritten for origin annotations), for lines.
		data, err := fs.ReadFile(r.fsys, k)
		if err != nil {
			continue
		}
		var kust struct {
			Namespace string      `yaml:"namespace"`
			Gens      []generator `yaml:"secretGenerator"`
		}
		if yaml.Unmarshal(data, &kust) != nil {
			continue
		}
		line := lineFinder(data)
		for _, g := range kust.Gens {
			obj := generatedName(objs, k, g, kust.Namespace, r.opts.DefaultNamespace)
			inputs := append(append([]string{}, g.Envs...), g.Files...)
			if g.Env != "" {
				inputs = append(inputs, g.Env)
			}
			for _, in := range inputs {
				if _, p, ok := strings.Cut(in, "="); ok {
					in = p
				}
				file := path.Join(path.Dir(k), in)
				r.nameObject(file, obj)
				if r.opts.Secrets != nil && r.opts.Secrets.RequireEncryption && !r.wasEncrypted(file) && !r.reported(file) {
					r.ps.add(Problem{File: file, Object: obj, Rule: RuleSecretPlain,
						Message: fmt.Sprintf("secretGenerator %s reads this file, which is not SOPS-encrypted: its values would sit in git in clear", g.Name),
						Hint:    "encrypt it for the environment: " + r.encryptHint(file, false)})
				}
			}
			if len(g.Literals) > 0 && r.opts.Secrets != nil && r.opts.Secrets.RequireEncryption {
				r.ps.add(Problem{File: k, Line: line("name: " + g.Name), Object: obj, Rule: RuleSecretPlain,
					Message: fmt.Sprintf("secretGenerator %s has literals: values written in the kustomization are plain text in git", g.Name),
					Hint:    "move them to an env file, encrypt it and list it under envs: " + r.encryptHint("secret.env", false)})
			}
		}
	}
}

// generatedName is the kind/namespace/name of the Secret g generated (its name has a
// hash suffix, and maybe a prefix), or the generator's own name.
func generatedName(objs []Object, kust string, g generator, kustNS, defNS string) string {
	for _, o := range objs {
		if isSecretObject(o) && o.Source.File == kust && strings.Contains(o.GetName(), g.Name) {
			if ns := o.GetNamespace(); ns != "" || defNS == "" {
				return ObjectName(o.Unstructured)
			}
			return "Secret/" + defNS + "/" + o.GetName()
		}
	}
	ns := g.Namespace
	if ns == "" {
		ns = kustNS
	}
	if ns == "" {
		ns = defNS
	}
	if ns == "" {
		return "Secret/" + g.Name
	}
	return "Secret/" + ns + "/" + g.Name
}

// nameObject sets obj on the secret problems of file that name no object yet.
func (r *renderer) nameObject(file, obj string) {
	for i := range r.ps {
		p := &r.ps[i]
		if p.File == file && p.Object == "" && strings.HasPrefix(p.Rule, "secret-") {
			p.Object = obj
		}
	}
}

// reported says whether file already has a problem (a SOPS file that failed to open).
func (r *renderer) reported(file string) bool {
	for _, p := range r.ps {
		if p.File == file {
			return true
		}
	}
	return false
}
