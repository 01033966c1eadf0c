package sandbox

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
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
	ErrKind int
	Err     string
	// ErrOp and ErrPath are those of an *fs.PathError (Err is then its inner error's text):
	// the renderers word their problems from the inner error.
	ErrOp, ErrPath string
	Info           fileInfo
	Entries        []fileInfo
	Data           []byte
	Namespaced     bool
	Known          bool
}

// treeServer answers the child's calls from the tree. It serves no file larger than
// maxFile and, in all, no more than maxTotal bytes of file content, so a child cannot make
// the daemon read a huge blob into memory.
type treeServer struct {
	tree              fs.FS
	scope             render.ScopeFunc
	maxFile, maxTotal int64
	mu                sync.Mutex // prefetch and serve answer at once; the tree is read by one
	served            int64
}

// serve answers calls on conn until it closes.
func (s *treeServer) serve(conn io.ReadWriter) {
	dec, enc := gob.NewDecoder(conn), gob.NewEncoder(conn)
	for {
		var c call
		if err := dec.Decode(&c); err != nil {
			return
		}
		r := s.answer(c)
		if err := enc.Encode(&r); err != nil {
			return
		}
	}
}

func (s *treeServer) answer(c call) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r reply
	switch c.Op {
	case opStat:
		fi, err := fs.Stat(s.tree, c.Name)
		r.setErr(err)
		if err == nil {
			r.Info = infoOf(fi)
		}
	case opReadDir:
		ents, err := fs.ReadDir(s.tree, c.Name)
		r.setErr(err)
		// Each entry with its own Info, as the tree gives it (of a symlink: the link's, not
		// its target's), so that a walk sees what it would see in process.
		for _, e := range ents {
			fi := fileInfo{Name: e.Name(), Mode: e.Type(), Size: -1}
			if info, err := e.Info(); err == nil {
				fi = infoOf(info)
			}
			r.Entries = append(r.Entries, fi)
		}
	case opReadFile:
		fi, err := fs.Stat(s.tree, c.Name)
		switch {
		case err != nil:
			r.setErr(err)
		case fi.Size() > s.maxFile:
			r.setErr(&fs.PathError{Op: "read", Path: c.Name, Err: fmt.Errorf("file of %d bytes is larger than the render limit (max_bytes %d)", fi.Size(), s.maxFile)})
		case s.served+fi.Size() > s.maxTotal:
			r.setErr(&fs.PathError{Op: "read", Path: c.Name, Err: fmt.Errorf("rendering read more than %d bytes (twice max_bytes)", s.maxTotal)})
		default:
			r.Data, err = fs.ReadFile(s.tree, c.Name)
			r.setErr(err)
			s.served += int64(len(r.Data))
		}
	case opScope:
		if s.scope != nil {
			r.Namespaced, r.Known = s.scope(c.GVK)
		}
	default:
		r.setErr(fmt.Errorf("unknown call %q", c.Op))
	}
	return r
}

// answered is a call answered ahead of the child's asking.
type answered struct {
	Call  call
	Reply reply
}

// entryCost is what prefetch counts for a file or directory besides its content, so that a
// tree of a million empty files is bounded too.
const entryCost = 256

// prefetched is one batch of calls answered ahead, sent on the child's stdin after the
// request; the last batch says Done.
type prefetched struct {
	Answers []answered
	Done    bool
}

// prefetchBatch is how many answers go in one batch: the child starts on the first while
// the daemon reads the next.
const prefetchBatch = 32

// prefetch answers the calls that a render of name makes for sure (stat and read of
// everything under it, in the order a walk makes them), until budget bytes are spent, and
// sends them in batches: they spare the child a round trip per file and directory, and the
// daemon reads the tree while the child renders what came first.
func (s *treeServer) prefetch(name string, budget int64, send func(prefetched) error) error {
	var batch []answered
	add := func(c call) reply {
		r := s.answer(c)
		batch = append(batch, answered{c, r})
		return r
	}
	var err error
	var walk func(name string, link bool)
	walk = func(name string, link bool) {
		if budget <= 0 || err != nil {
			return
		}
		if len(batch) >= prefetchBatch {
			err = send(prefetched{Answers: batch})
			batch = nil
		}
		budget -= entryCost
		st := add(call{Op: opStat, Name: name})
		switch {
		case st.ErrKind != 0:
		case st.Info.Mode.IsDir() && link:
			// A symlinked directory is not walked, as the renderers walk none: links to
			// "." would have the read-ahead go round until its budget ends.
		case st.Info.Mode.IsDir():
			rd := add(call{Op: opReadDir, Name: name})
			for _, e := range rd.Entries {
				walk(path.Join(name, e.Name), e.Mode&fs.ModeSymlink != 0)
			}
		case st.Info.Mode.IsRegular() && st.Info.Size <= budget:
			budget -= st.Info.Size
			add(call{Op: opReadFile, Name: name})
		}
	}
	walk(name, false)
	if err != nil {
		return err
	}
	return send(prefetched{Answers: batch, Done: true})
}

func infoOf(fi fs.FileInfo) fileInfo {
	return fileInfo{Name: fi.Name(), Size: fi.Size(), Mode: fi.Mode()}
}

func (r *reply) setErr(err error) {
	if err == nil {
		return
	}
	r.Err = err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		r.ErrOp, r.ErrPath, r.Err = pe.Op, pe.Path, pe.Err.Error()
	}
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
	err := error(&remoteError{msg: r.Err, kind: kind})
	if r.ErrOp != "" || r.ErrPath != "" {
		err = &fs.PathError{Op: r.ErrOp, Path: r.ErrPath, Err: err}
	}
	return err
}

type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// remoteFS is the child's view of the tree: every answer comes from the parent, and is kept,
// since renderers stat and read the same files more than once. Answers to calls under the
// render path arrive ahead, in batches (see treeServer.prefetch): a call under it waits
// for them rather than asking.
type remoteFS struct {
	mu    sync.Mutex
	more  *sync.Cond // signalled when a batch arrived
	enc   *gob.Encoder
	dec   *gob.Decoder
	stats map[string]reply
	dirs  map[string]reply
	files map[string]reply
	// ahead is the path whose answers are still arriving ("" once they all have).
	ahead string
}

func newRemoteFS(conn io.ReadWriter) *remoteFS {
	f := &remoteFS{enc: gob.NewEncoder(conn), dec: gob.NewDecoder(conn),
		stats: map[string]reply{}, dirs: map[string]reply{}, files: map[string]reply{}}
	f.more = sync.NewCond(&f.mu)
	return f
}

// receive takes the batches answered ahead for the calls under dir from dec, until the
// last. Run it in its own goroutine.
func (f *remoteFS) receive(dir string, dec *gob.Decoder) {
	f.mu.Lock()
	f.ahead = dir
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.ahead = ""
		f.more.Broadcast()
		f.mu.Unlock()
	}()
	for {
		var p prefetched
		if err := dec.Decode(&p); err != nil {
			return
		}
		f.mu.Lock()
		for _, a := range p.Answers {
			switch a.Call.Op {
			case opStat:
				f.stats[a.Call.Name] = a.Reply
			case opReadDir:
				f.dirs[a.Call.Name] = a.Reply
			case opReadFile:
				f.files[a.Call.Name] = a.Reply
			}
		}
		f.more.Broadcast()
		f.mu.Unlock()
		if p.Done {
			return
		}
	}
}

// under reports whether name is dir or inside it.
func under(name, dir string) bool {
	return dir == "." || name == dir || strings.HasPrefix(name, dir+"/")
}

func (f *remoteFS) call(c call, cache map[string]reply) reply {
	f.mu.Lock()
	defer f.mu.Unlock()
	for cache != nil {
		if r, ok := cache[c.Name]; ok {
			return r
		}
		if f.ahead == "" || !under(c.Name, f.ahead) {
			break
		}
		f.more.Wait()
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
	if d.fi.Size < 0 { // the tree could not tell
		return d.fs.Stat(path.Join(d.dir, d.fi.Name))
	}
	return info{d.fi}, nil
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
