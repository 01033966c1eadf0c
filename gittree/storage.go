package gittree

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/helper/mount"
	"github.com/go-git/go-billy/v5/helper/polyfill"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// ObjectDirsFromEnv returns the object directories git hands a hook during a push:
// GIT_OBJECT_DIRECTORY (the quarantine) first, then each of GIT_ALTERNATE_OBJECT_DIRECTORIES.
// getenv is usually os.Getenv, or a lookup in the environment a hook shim forwarded.
func ObjectDirsFromEnv(getenv func(string) string) []string {
	var dirs []string
	if d := getenv("GIT_OBJECT_DIRECTORY"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range splitAlternates(getenv("GIT_ALTERNATE_OBJECT_DIRECTORIES")) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// splitAlternates splits a colon-separated list the way git does; git quotes an entry
// that contains a colon in C style, which gitopsd's paths never need, so quotes are only
// stripped.
func splitAlternates(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, string(os.PathListSeparator))
	for i, p := range parts {
		parts[i] = strings.Trim(p, `"`)
	}
	return parts
}

// chain looks objects up in several object stores in order. It is read-only: the hooks
// never write objects.
type chain struct {
	stores []*filesystem.ObjectStorage
}

var _ storer.EncodedObjectStorer = (*chain)(nil)

// openChain opens the extra object directories, then the repository at repoDir (a bare
// repository, or a work tree's .git directory). largeObject is the size above which objects
// are read lazily rather than loaded into memory.
func openChain(repoDir string, objectDirs []string, largeObject int64) (*chain, error) {
	opts := filesystem.Options{LargeObjectThreshold: largeObject, AlternatesFS: osfs.New("/")}
	objCache := cache.NewObjectLRU(16 * cache.MiByte)
	repo, err := filepath.Abs(repoDir)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", repoDir, err)
	}
	if fi, err := os.Stat(filepath.Join(repo, "objects")); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("repository %s: no objects directory", repoDir)
	}
	c := &chain{}
	seen := map[string]bool{}
	for _, d := range objectDirs {
		// Git runs hooks in the repository, so a relative directory is relative to it,
		// not to the daemon's working directory.
		abs := d
		if !filepath.IsAbs(d) {
			abs = filepath.Join(repo, d)
		}
		abs = filepath.Clean(abs)
		if seen[abs] {
			continue
		}
		seen[abs] = true
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("object directory %s: not a directory", d)
		}
		c.stores = append(c.stores, newStore(objectsFS(abs), objCache, opts))
	}
	if !seen[filepath.Join(repo, "objects")] {
		c.stores = append(c.stores, newStore(osfs.New(repo), objCache, opts))
	}
	return c, nil
}

// objectsFS presents an object directory (which git may name anything, e.g. the quarantine
// objects/tmp_objdir-incoming-XXXX) as the "objects" folder go-git's storage expects.
func objectsFS(dir string) billy.Filesystem {
	return polyfill.New(mount.New(memfs.New(), "/objects", osfs.New(dir)))
}

func newStore(fs billy.Filesystem, c cache.Object, opts filesystem.Options) *filesystem.ObjectStorage {
	dir := dotgit.NewWithOptions(fs, dotgit.Options{AlternatesFS: opts.AlternatesFS})
	return filesystem.NewObjectStorageWithOptions(dir, c, opts)
}

func (c *chain) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	for _, s := range c.stores {
		o, err := s.EncodedObject(t, h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			continue
		}
		return o, err
	}
	return nil, plumbing.ErrObjectNotFound
}

func (c *chain) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	for _, s := range c.stores {
		n, err := s.EncodedObjectSize(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			continue
		}
		return n, err
	}
	return 0, plumbing.ErrObjectNotFound
}

func (c *chain) HasEncodedObject(h plumbing.Hash) error {
	for _, s := range c.stores {
		if err := s.HasEncodedObject(h); err == nil {
			return nil
		}
	}
	return plumbing.ErrObjectNotFound
}

var errReadOnly = errors.New("gittree: read-only object storage")

func (c *chain) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }
func (c *chain) SetEncodedObject(plumbing.EncodedObject) (plumbing.Hash, error) {
	return plumbing.ZeroHash, errReadOnly
}
func (c *chain) IterEncodedObjects(plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return nil, errReadOnly
}
func (c *chain) AddAlternate(string) error { return errReadOnly }
