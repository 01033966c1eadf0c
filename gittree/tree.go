package gittree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Defaults for Options.
const (
	DefaultMaxBytes = 64 << 20
	// maxSymlinkHops matches what Linux allows before ELOOP.
	maxSymlinkHops = 40
	// maxLinkTarget bounds the blob read as a symlink target; PATH_MAX on Linux.
	maxLinkTarget = 4096
)

// Options bound and locate a Tree.
type Options struct {
	// ObjectDirs are searched before the repository's own objects, in order. During a
	// push, pass ObjectDirsFromEnv(getenv) so the quarantined objects are found.
	ObjectDirs []string
	// MaxBytes bounds the sum of the sizes of the files opened (DefaultMaxBytes if 0).
	MaxBytes int64
	// MaxFileBytes bounds the size of one file (MaxBytes if 0).
	MaxFileBytes int64
}

// DefaultOptions returns Options with every bound at its default.
func DefaultOptions() Options {
	return Options{MaxBytes: DefaultMaxBytes, MaxFileBytes: DefaultMaxBytes}
}

func (o *Options) defaults() {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxFileBytes <= 0 || o.MaxFileBytes > o.MaxBytes {
		o.MaxFileBytes = o.MaxBytes
	}
}

// Tree is the tree of one commit as a read-only fs.FS. It is safe for concurrent use.
// Paths are slash-separated and relative to the root of the commit (fs.ValidPath); use
// fs.Sub for a subdirectory (symlinks are still judged against the commit's root, so a
// link from an overlay to a shared base elsewhere in the repository works). In ReadDir listings a symlink to a file looks like the file
// and a symlink to a directory or outside the tree keeps fs.ModeSymlink, so fs.WalkDir
// never loops; Open and Stat follow symlinks that stay inside the tree.
type Tree struct {
	mu     sync.Mutex // go-git's object storage is not safe for concurrent use
	store  *chain
	root   *object.Tree
	commit plumbing.Hash
	opts   Options
	read   int64 // bytes of the files opened so far
	// Decoded trees and object sizes, so that walking a directory of many files does not
	// decode the same trees again for every path.
	trees map[plumbing.Hash]*object.Tree
	sizes map[plumbing.Hash]int64
}

var (
	_ fs.FS         = (*Tree)(nil)
	_ fs.ReadDirFS  = (*Tree)(nil)
	_ fs.ReadFileFS = (*Tree)(nil)
	_ fs.StatFS     = (*Tree)(nil)
)

// Open returns the tree of commit (a full hexadecimal object name; an annotated tag is
// peeled to its commit) in the repository at repoDir.
func Open(repoDir, commit string, opts Options) (*Tree, error) {
	opts.defaults()
	if !plumbing.IsHash(commit) {
		return nil, fmt.Errorf("open commit %q: not a full object name", commit)
	}
	store, err := openChain(repoDir, opts.ObjectDirs, opts.MaxFileBytes)
	if err != nil {
		return nil, err
	}
	h := plumbing.NewHash(commit)
	obj, err := store.EncodedObject(plumbing.AnyObject, h)
	for err == nil && obj.Type() == plumbing.TagObject {
		var tag *object.Tag
		if tag, err = object.DecodeTag(store, obj); err == nil {
			obj, err = store.EncodedObject(plumbing.AnyObject, tag.Target)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open commit %s: %w", commit, err)
	}
	c, err := object.DecodeCommit(store, obj)
	if err != nil {
		return nil, fmt.Errorf("open commit %s: %w", commit, err)
	}
	root, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("open tree of commit %s: %w", commit, err)
	}
	return &Tree{store: store, root: root, commit: c.Hash, opts: opts,
		trees: map[plumbing.Hash]*object.Tree{}, sizes: map[plumbing.Hash]int64{}}, nil
}

// Commit is the commit the tree belongs to.
func (t *Tree) Commit() string { return t.commit.String() }

// node is a resolved path: the entry it names (zero for the root) and, for a directory,
// its tree.
type node struct {
	path  string // resolved path, symlinks followed
	entry object.TreeEntry
	tree  *object.Tree
}

func (n *node) isDir() bool { return n.tree != nil }

// resolve walks name from the root, following symlinks in every component, and in the
// last one too when follow is set. The caller holds t.mu.
func (t *Tree) resolve(name string, follow bool) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, fs.ErrInvalid
	}
	cur := &node{tree: t.root}
	var todo []string
	if name != "." {
		todo = strings.Split(name, "/")
	}
	hops := 0
	for len(todo) > 0 {
		comp := todo[0]
		todo = todo[1:]
		if !cur.isDir() {
			return nil, fmt.Errorf("%s is not a directory: %w", cur.path, fs.ErrNotExist)
		}
		e, ok := findEntry(cur.tree, comp)
		if !ok {
			return nil, fs.ErrNotExist
		}
		p := path.Join(cur.path, comp)
		switch {
		case e.Mode == filemode.Symlink && (follow || len(todo) > 0):
			hops++
			if hops > maxSymlinkHops {
				return nil, fmt.Errorf("%s: %w", p, ErrSymlinkLoop)
			}
			target, err := t.linkTarget(e.Hash)
			if err != nil {
				return nil, fmt.Errorf("read symlink %s: %w", p, err)
			}
			joined := path.Join(cur.path, target)
			if path.IsAbs(target) || joined == ".." || strings.HasPrefix(joined, "../") {
				return nil, fmt.Errorf("%s -> %s: %w", p, target, ErrSymlinkEscape)
			}
			// Restart from the root with the target in front of what is left.
			cur = &node{tree: t.root}
			if joined != "." {
				todo = append(strings.Split(joined, "/"), todo...)
			}
		case e.Mode == filemode.Submodule:
			return nil, fmt.Errorf("%s: %w", p, ErrSubmodule)
		case e.Mode == filemode.Dir:
			sub, err := t.tree(e.Hash)
			if err != nil {
				return nil, fmt.Errorf("read directory %s: %w", p, err)
			}
			cur = &node{path: p, entry: e, tree: sub}
		default:
			cur = &node{path: p, entry: e}
		}
	}
	return cur, nil
}

func findEntry(t *object.Tree, name string) (object.TreeEntry, bool) {
	for _, e := range t.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return object.TreeEntry{}, false
}

func (t *Tree) linkTarget(h plumbing.Hash) (string, error) {
	b, err := t.blob(h, maxLinkTarget)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (t *Tree) tree(h plumbing.Hash) (*object.Tree, error) {
	if tr, ok := t.trees[h]; ok {
		return tr, nil
	}
	tr, err := object.GetTree(t.store, h)
	if err == nil {
		t.trees[h] = tr
	}
	return tr, err
}

// size returns an object's size without loading it.
func (t *Tree) size(h plumbing.Hash) (int64, error) {
	if n, ok := t.sizes[h]; ok {
		return n, nil
	}
	n, err := t.store.EncodedObjectSize(h)
	if err != nil {
		o, oerr := t.store.EncodedObject(plumbing.BlobObject, h)
		if oerr != nil {
			return 0, oerr
		}
		n = o.Size()
	}
	t.sizes[h] = n
	return n, nil
}

// blob loads a blob of at most limit bytes; the size is checked before any content is read.
func (t *Tree) blob(h plumbing.Hash, limit int64) ([]byte, error) {
	n, err := t.size(h)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%d bytes, more than the limit of %d: %w", n, limit, ErrTooLarge)
	}
	o, err := t.store.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, err
	}
	r, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var buf bytes.Buffer
	buf.Grow(int(n))
	if _, err := io.Copy(&buf, io.LimitReader(r, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("more than the limit of %d bytes: %w", limit, ErrTooLarge)
	}
	return buf.Bytes(), nil
}

// readFile loads the content of a resolved regular file, charging it to the total bound.
// The caller holds t.mu.
func (t *Tree) readFile(n *node) ([]byte, error) {
	size, err := t.size(n.entry.Hash)
	if err != nil {
		return nil, err
	}
	if size > t.opts.MaxFileBytes {
		return nil, fmt.Errorf("file is %d bytes, more than the limit of %d: %w", size, t.opts.MaxFileBytes, ErrTooLarge)
	}
	if t.read+size > t.opts.MaxBytes {
		return nil, fmt.Errorf("files read add up to more than the limit of %d bytes: %w", t.opts.MaxBytes, ErrTooLarge)
	}
	t.read += size
	return t.blob(n.entry.Hash, t.opts.MaxFileBytes)
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// Open opens the named file or directory, following symlinks inside the tree.
func (t *Tree) Open(name string) (fs.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.resolve(name, true)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	info := t.info(path.Base(name), n)
	if n.isDir() {
		return &dir{t: t, name: name, info: info, tree: n.tree, resolved: n.path}, nil
	}
	data, err := t.readFile(n)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	info.size = int64(len(data))
	return &file{info: info, r: bytes.NewReader(data)}, nil
}

// ReadFile returns the content of the named file.
func (t *Tree) ReadFile(name string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.resolve(name, true)
	if err != nil {
		return nil, pathErr("read", name, err)
	}
	if n.isDir() {
		return nil, pathErr("read", name, errors.New("is a directory"))
	}
	data, err := t.readFile(n)
	if err != nil {
		return nil, pathErr("read", name, err)
	}
	return data, nil
}

// Stat describes the named file, following symlinks; it reads no file content.
func (t *Tree) Stat(name string) (fs.FileInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.resolve(name, true)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	info := t.info(path.Base(name), n)
	if !n.isDir() {
		if info.size, err = t.size(n.entry.Hash); err != nil {
			return nil, pathErr("stat", name, err)
		}
	}
	return info, nil
}

// ReadDir lists the named directory in git's order.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.resolve(name, true)
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	if !n.isDir() {
		return nil, pathErr("readdir", name, errors.New("not a directory"))
	}
	return t.entries(n.path, n.tree), nil
}

// entries lists a directory. The caller holds t.mu.
func (t *Tree) entries(dirPath string, tree *object.Tree) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(tree.Entries))
	for _, e := range tree.Entries {
		n := &node{path: path.Join(dirPath, e.Name), entry: e}
		if e.Mode == filemode.Dir {
			// An empty tree stands in: listings never load subdirectories.
			n.tree = &object.Tree{}
		}
		info := t.info(e.Name, n)
		if e.Mode == filemode.Symlink {
			// A symlink to a file inside the tree reads as that file.
			if target, err := t.resolve(n.path, true); err == nil && !target.isDir() && target.entry.Mode != filemode.Submodule {
				info = t.info(e.Name, target)
			}
		}
		out = append(out, &dirEntry{t: t, info: info})
	}
	return out
}

// info describes a node; size is filled in lazily for listings.
func (t *Tree) info(name string, n *node) *fileInfo {
	fi := &fileInfo{name: name, hash: n.entry.Hash, size: -1}
	switch {
	case n.isDir():
		fi.mode = fs.ModeDir | 0o755
		fi.size = 0
	case n.entry.Mode == filemode.Symlink:
		fi.mode = fs.ModeSymlink | 0o777
	case n.entry.Mode == filemode.Submodule:
		fi.mode = fs.ModeIrregular
		fi.size = 0
	case n.entry.Mode == filemode.Executable:
		fi.mode = 0o755
	default:
		fi.mode = 0o644
	}
	return fi
}
