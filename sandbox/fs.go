package sandbox

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopsd/gitopsd/render"
)

// The child reads the tree through calls on a socket: one call, one reply, in order.
const (
	opStat     = "stat"
	opReadDir  = "readdir"
	opReadFile = "readfile"
	opScope    = "scope"
)

type call struct {
	Op   string
	Name string
	GVK  schema.GroupVersionKind
}

// Error kinds that cross the socket, so that errors.Is(err, fs.ErrNotExist) holds in the
// child as it did on the tree itself.
const (
	errOther = iota + 1
	errNotExist
	errInvalid
	errPermission
)

type fileInfo struct {
	Name string
	Size int64
	Mode fs.FileMode
}

type reply struct {
	ErrKind    int
	Err        string
	Info       fileInfo
	Entries    []fileInfo
	Data       []byte
	Namespaced bool
	Known      bool
}

// serveTree answers the child's calls from tree until the connection closes. It serves no
// file larger than maxFile and, in all, no more than maxTotal bytes of file content, so a
// child cannot make the daemon read a huge blob into memory.
func serveTree(conn io.ReadWriter, tree fs.FS, scope render.ScopeFunc, maxFile, maxTotal int64) {
	dec, enc := gob.NewDecoder(conn), gob.NewEncoder(conn)
	var served int64
	for {
		var c call
		if err := dec.Decode(&c); err != nil {
			return
		}
		var r reply
		switch c.Op {
		case opStat:
			fi, err := fs.Stat(tree, c.Name)
			r.setErr(err)
			if err == nil {
				r.Info = infoOf(fi)
			}
		case opReadDir:
			ents, err := fs.ReadDir(tree, c.Name)
			r.setErr(err)
			for _, e := range ents {
				r.Entries = append(r.Entries, fileInfo{Name: e.Name(), Mode: e.Type(), Size: -1})
			}
		case opReadFile:
			fi, err := fs.Stat(tree, c.Name)
			switch {
			case err != nil:
				r.setErr(err)
			case fi.Size() > maxFile:
				r.setErr(&fs.PathError{Op: "read", Path: c.Name, Err: fmt.Errorf("file of %d bytes is larger than the render limit (max_bytes %d)", fi.Size(), maxFile)})
			case served+fi.Size() > maxTotal:
				r.setErr(&fs.PathError{Op: "read", Path: c.Name, Err: fmt.Errorf("rendering read more than %d bytes (twice max_bytes)", maxTotal)})
			default:
				r.Data, err = fs.ReadFile(tree, c.Name)
				r.setErr(err)
				served += int64(len(r.Data))
			}
		case opScope:
			if scope != nil {
				r.Namespaced, r.Known = scope(c.GVK)
			}
		default:
			r.setErr(fmt.Errorf("unknown call %q", c.Op))
		}
		if err := enc.Encode(&r); err != nil {
			return
		}
	}
}

func infoOf(fi fs.FileInfo) fileInfo {
	return fileInfo{Name: fi.Name(), Size: fi.Size(), Mode: fi.Mode()}
}

func (r *reply) setErr(err error) {
	if err == nil {
		return
	}
	r.Err = err.Error()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.ErrKind = errNotExist
	case errors.Is(err, fs.ErrInvalid):
		r.ErrKind = errInvalid
	case errors.Is(err, fs.ErrPermission):
		r.ErrKind = errPermission
	default:
		r.ErrKind = errOther
	}
}

// err rebuilds the error the tree returned: the same text, and the same fs error kind.
func (r *reply) err() error {
	if r.ErrKind == 0 {
		return nil
	}
	var kind error
	switch r.ErrKind {
	case errNotExist:
		kind = fs.ErrNotExist
	case errInvalid:
		kind = fs.ErrInvalid
	case errPermission:
		kind = fs.ErrPermission
	}
	return &remoteError{msg: r.Err, kind: kind}
}

type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// remoteFS is the child's view of the tree: every answer comes from the parent, and is kept,
// since renderers stat and read the same files more than once.
type remoteFS struct {
	mu    sync.Mutex
	enc   *gob.Encoder
	dec   *gob.Decoder
	stats map[string]reply
	dirs  map[string]reply
	files map[string]reply
}

func newRemoteFS(conn io.ReadWriter) *remoteFS {
	return &remoteFS{enc: gob.NewEncoder(conn), dec: gob.NewDecoder(conn),
		stats: map[string]reply{}, dirs: map[string]reply{}, files: map[string]reply{}}
}

func (f *remoteFS) call(c call, cache map[string]reply) reply {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cache != nil {
		if r, ok := cache[c.Name]; ok {
			return r
		}
	}
	var r reply
	if err := f.enc.Encode(&c); err != nil {
		r.setErr(fmt.Errorf("reading the tree: %w", err))
		return r
	}
	if err := f.dec.Decode(&r); err != nil {
		r = reply{}
		r.setErr(fmt.Errorf("reading the tree: %w", err))
		return r
	}
	if cache != nil {
		cache[c.Name] = r
	}
	return r
}

func (f *remoteFS) Stat(name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrInvalid}
	}
	r := f.call(call{Op: opStat, Name: name}, f.stats)
	if err := r.err(); err != nil {
		return nil, err
	}
	return info{r.Info}, nil
}

func (f *remoteFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	r := f.call(call{Op: opReadDir, Name: name}, f.dirs)
	if err := r.err(); err != nil {
		return nil, err
	}
	ents := make([]fs.DirEntry, len(r.Entries))
	for i, e := range r.Entries {
		ents[i] = dirEntry{fs: f, dir: name, fi: e}
	}
	return ents, nil
}

func (f *remoteFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	r := f.call(call{Op: opReadFile, Name: name}, f.files)
	if err := r.err(); err != nil {
		return nil, err
	}
	return bytes.Clone(r.Data), nil
}

func (f *remoteFS) Open(name string) (fs.File, error) {
	fi, err := f.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return &openDir{fs: f, name: name, fi: fi}, nil
	}
	data, err := f.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &openFile{Reader: bytes.NewReader(data), fi: fi}, nil
}

// scope asks the parent whether a kind is namespaced (the parent holds the cluster's
// discovery; the child has no way to reach the cluster).
func (f *remoteFS) scope(gvk schema.GroupVersionKind) (bool, bool) {
	r := f.call(call{Op: opScope, GVK: gvk}, nil)
	return r.Namespaced, r.Known
}

type info struct{ f fileInfo }

func (i info) Name() string       { return i.f.Name }
func (i info) Size() int64        { return i.f.Size }
func (i info) Mode() fs.FileMode  { return i.f.Mode }
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return i.f.Mode.IsDir() }
func (i info) Sys() any           { return nil }

type dirEntry struct {
	fs  *remoteFS
	dir string
	fi  fileInfo
}

func (d dirEntry) Name() string      { return d.fi.Name }
func (d dirEntry) IsDir() bool       { return d.fi.Mode.IsDir() }
func (d dirEntry) Type() fs.FileMode { return d.fi.Mode.Type() }
func (d dirEntry) Info() (fs.FileInfo, error) {
	return d.fs.Stat(path.Join(d.dir, d.fi.Name))
}

type openFile struct {
	*bytes.Reader
	fi fs.FileInfo
}

func (f *openFile) Stat() (fs.FileInfo, error) { return f.fi, nil }
func (f *openFile) Close() error               { return nil }

type openDir struct {
	fs   *remoteFS
	name string
	fi   fs.FileInfo
	ents []fs.DirEntry
	read bool
}

func (d *openDir) Stat() (fs.FileInfo, error) { return d.fi, nil }
func (d *openDir) Close() error               { return nil }
func (d *openDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

func (d *openDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.fs.ReadDir(d.name)
		if err != nil {
			return nil, err
		}
		d.ents, d.read = ents, true
	}
	if n <= 0 {
		ents := d.ents
		d.ents = nil
		return ents, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.ents))
	ents := d.ents[:n]
	d.ents = d.ents[n:]
	return ents, nil
}
