package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// RepoDir is where a repository keeps its own policies.
const RepoDir = ".gitopsd/policies"

// maxPolicyFile bounds one policy file; policies are short.
const maxPolicyFile = 64 << 10

// repoFile is the shape of one .gitopsd/policies/*.yaml file: one policy per file.
type repoFile struct {
	Name       string   `json:"name"`
	Kinds      []string `json:"kinds"`
	Expression string   `json:"expression"`
	Message    string   `json:"message"`
	Hint       string   `json:"hint"`
}

// LoadRepo reads the policies a pushed tree carries under RepoDir. A missing directory is
// no policies; a malformed file is an error naming it.
func LoadRepo(fsys fs.FS) ([]Policy, error) {
	entries, err := fs.ReadDir(fsys, RepoDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", RepoDir, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var out []Policy
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		file := path.Join(RepoDir, name)
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if info.Size() > maxPolicyFile {
			return nil, fmt.Errorf("%s: larger than %d bytes", file, maxPolicyFile)
		}
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		var rf repoFile
		if err := yaml.UnmarshalStrict(data, &rf); err != nil {
			return nil, fmt.Errorf("%s: %v (expected keys name, kinds, expression, message, hint)", file, err)
		}
		if rf.Name == "" {
			rf.Name = strings.TrimSuffix(strings.TrimSuffix(name, ".yaml"), ".yml")
		}
		if rf.Expression == "" || rf.Message == "" {
			return nil, fmt.Errorf("%s: expression and message are required", file)
		}
		out = append(out, Policy{Name: rf.Name, Kinds: rf.Kinds, Expression: rf.Expression, Message: rf.Message, Hint: rf.Hint, Source: file})
	}
	return out, nil
}
