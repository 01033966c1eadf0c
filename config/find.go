package config

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// FileName is the name of the configuration that a check of a working tree looks for.
const FileName = "repos.yaml"

// Workspace is where a working tree's check takes its settings from.
type Workspace struct {
	// Root is the tree that is checked, as a push's tree: the repository root (the
	// directory holding .git), else the directory holding File, else the directory
	// the search started from.
	Root string
	// File is the repos.yaml found ("" when none was).
	File string
	// Dir is the directory the search started from, relative to Root, slash-separated
	// ("." at the root): the directory whose environment is meant.
	Dir string
}

// FindWorkspace looks for repos.yaml in dir and in each directory above it, up to and
// including the repository root, so that a file above the repository (a home directory's)
// is never taken for the repository's; outside any repository it looks up to the
// filesystem's root. file, when not "", is the configuration given instead (it is
// not looked for, and its directory is the root when it holds dir and no repository
// does).
func FindWorkspace(dir, file string) (Workspace, error) {
	start, err := realDir(dir)
	if err != nil {
		return Workspace{}, err
	}
	gitRoot, found := "", ""
	for d := start; ; {
		if found == "" && file == "" && exists(filepath.Join(d, FileName)) {
			found = filepath.Join(d, FileName)
		}
		if exists(filepath.Join(d, ".git")) {
			gitRoot = d
			break
		}
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	ws := Workspace{Root: start, File: found}
	switch {
	case gitRoot != "":
		ws.Root = gitRoot
	case found != "":
		ws.Root = filepath.Dir(found)
	case file != "":
		if fd, err := realDir(filepath.Dir(file)); err == nil && within(fd, start) {
			ws.Root = fd
		}
	}
	if file != "" {
		ws.File = file
	}
	rel, err := filepath.Rel(ws.Root, start)
	if err != nil {
		return Workspace{}, err
	}
	ws.Dir = filepath.ToSlash(rel)
	return ws, nil
}

// Holds reports whether file (symlinks resolved) is inside the tree of w.
func (w Workspace) Holds(file string) bool {
	abs, err := filepath.Abs(file)
	if err != nil {
		return false
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return within(w.Root, abs)
}

// realDir is dir as an absolute path without symlinks, so that the directory a check
// starts from and the root above it compare as paths.
func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", &fs.PathError{Op: "check", Path: dir, Err: errors.New("not a directory")}
	}
	return real, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// within reports whether path p is root or below it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// EnvRef is one environment of one repo, named REPO/ENV.
type EnvRef struct {
	Repo string
	Env  Environment
}

func (r EnvRef) String() string { return r.Repo + "/" + r.Env.Name }

// Environments lists every environment of every repo, sorted by name.
func (c *Config) Environments() []EnvRef {
	var all []EnvRef
	for _, rn := range sortedKeys(c.Repos) {
		envs := c.Repos[rn].Environments
		for _, en := range sortedKeys(envs) {
			all = append(all, EnvRef{Repo: rn, Env: envs[en]})
		}
	}
	return all
}

// EnvironmentsAt lists the environments whose path holds dir (slash-separated, relative
// to the repository root): those a check run in dir may mean.
func (c *Config) EnvironmentsAt(dir string) []EnvRef {
	dir = path.Clean("/" + dir)
	var at []EnvRef
	for _, e := range c.Environments() {
		// The renderer reads a path from the root of the tree, with or without a
		// leading slash.
		if p := path.Clean("/" + e.Env.Path); p == "/" || p == dir || strings.HasPrefix(dir, p+"/") {
			at = append(at, e)
		}
	}
	return at
}
