package gittree

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

type fileInfo struct {
	name string
	mode fs.FileMode
	size int64 // -1 until known
	hash plumbing.Hash
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return max(fi.size, 0) } // listings call Info first
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return time.Time{} }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return nil }

type dirEntry struct {
	t    *Tree
	info *fileInfo
}

func (d *dirEntry) Name() string      { return d.info.name }
func (d *dirEntry) IsDir() bool       { return d.info.IsDir() }
func (d *dirEntry) Type() fs.FileMode { return d.info.mode.Type() }
func (d *dirEntry) Info() (fs.FileInfo, error) {
	d.t.mu.Lock()
	defer d.t.mu.Unlock()
	if d.info.size < 0 && d.info.mode.IsRegular() {
		n, err := d.t.size(d.info.hash)
		if err != nil {
			return nil, err
		}
		d.info.size = n
	}
	return d.info, nil
}

// file is an opened regular file, already loaded (its size was bounded first).
type file struct {
	info *fileInfo
	r    *bytes.Reader
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *file) Close() error               { return nil }

// dir is an opened directory.
type dir struct {
	t        *Tree
	name     string
	resolved string
	info     *fileInfo
	tree     *object.Tree
	list     []fs.DirEntry
	listed   bool
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dir) Close() error               { return nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.listed {
		d.t.mu.Lock()
		d.list = d.t.entries(d.resolved, d.tree)
		d.t.mu.Unlock()
		d.listed = true
	}
	if n <= 0 {
		out := d.list
		d.list = nil
		return out, nil
	}
	if len(d.list) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.list))
	out := d.list[:n]
	d.list = d.list[n:]
	return out, nil
}
