package render

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// plain renders a directory of YAML and JSON manifests, recursively, in lexical order.
// Hidden files and directories (.git, .gitopsd, .github) are skipped. Files without a
// manifest extension are ignored unless their text looks like a manifest; binary ones are
// refused, since a binary file in the manifest path is almost always a mistake.
// Symlinked directories are not walked (a cycle would never end); symlinked files are.
func (r *renderer) plain(root string) []Object {
	var files []plainInput
	err := fs.WalkDir(r.fsys, root, func(p string, d fs.DirEntry, err error) error {
		if r.ctx.Err() != nil {
			return fs.SkipAll
		}
		if err != nil {
			r.ps.add(Problem{File: p, Rule: RuleRead, Message: "cannot read: " + describe(err)})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		file, special := r.walkedFile(p, d)
		if special {
			r.ps.add(Problem{File: p, Rule: RuleRead, Message: "not a regular file (a submodule?)",
				Hint: "submodules are not supported; vendor the manifests instead"})
		}
		if !file {
			return nil
		}
		if !isManifestName(p) && !r.looksLikeManifest(p) {
			return nil
		}
		if data := r.plainText(p); data != nil {
			files = append(files, plainInput{path: p, data: data})
		}
		return nil
	})
	if err != nil {
		r.ps.add(Problem{File: root, Rule: RuleRead, Message: "cannot read: " + describe(err)})
	}
	return r.decodeAll(files)
}

// plainInput is one manifest file read by the walk, to be decoded.
type plainInput struct {
	path string
	data []byte
	objs []Object
	ps   problems
}

// decodeAll decodes the files on every core, since parsing YAML is where rendering a big
// directory spends its time (1,000 objects in 50 files: 0.14 s on one core of the
// benchmark machine), and returns their objects and problems in the walk's order.
func (r *renderer) decodeAll(files []plainInput) []Object {
	workers := min(runtime.GOMAXPROCS(0), len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) || r.ctx.Err() != nil {
					return
				}
				f := &files[i]
				// SOPS files are decrypted here, on every core, rather than in the walk.
				if data := r.open(f.path, f.data, &f.ps); data != nil {
					f.objs = r.objects(f.path, data, &f.ps)
				}
			}
		}()
	}
	wg.Wait()
	var objs []Object
	for i := range files {
		r.ps = append(r.ps, files[i].ps...)
		objs = append(objs, files[i].objs...)
	}
	return objs
}

func isManifestName(p string) bool {
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

var (
	apiVersionLine = regexp.MustCompile(`(?m)^apiVersion:[ \t]*\S`)
	kindLine       = regexp.MustCompile(`(?m)^kind:[ \t]*\S`)
)

// looksLikeManifest reads the start of a file with an unexpected name. A binary file is
// reported; a text file counts as a manifest when it has top-level apiVersion and kind.
func (r *renderer) looksLikeManifest(p string) bool {
	f, err := r.fsys.Open(p)
	if err != nil {
		r.ps.add(Problem{File: p, Rule: RuleRead, Message: "cannot read: " + describe(err)})
		return false
	}
	defer f.Close()
	head, err := io.ReadAll(io.LimitReader(f, sniffLen))
	if err != nil {
		return false
	}
	if bytes.IndexByte(head, 0) >= 0 {
		r.ps.add(*textProblem(p, head))
		return false
	}
	return apiVersionLine.Match(head) && kindLine.Match(head)
}

// plainText reads one manifest file and checks that it is text; nil after a problem. A
// SOPS file is returned encrypted: decodeAll decrypts it.
func (r *renderer) plainText(p string) []byte {
	data := r.readRaw(p)
	if data == nil {
		return nil
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if pr := textProblem(p, data); pr != nil {
		r.ps.add(*pr)
		return nil
	}
	return data
}

// objects decodes a stream into objects sourced at file, expanding List kinds. It reports
// to ps, not r.ps, so that files can be decoded concurrently.
func (r *renderer) objects(file string, data []byte, ps *problems) []Object {
	var objs []Object
	for _, doc := range decodeStream(file, data, r.limits(), ps) {
		objs = append(objs, expand(file, doc, ps)...)
	}
	return objs
}

// expand returns a document's object, or the items of a List (v1 List, FooList).
func expand(file string, doc document, ps *problems) []Object {
	kind, _ := doc.obj["kind"].(string)
	items, isList := doc.obj["items"].([]any)
	if !strings.HasSuffix(kind, "List") || !isList {
		return []Object{{Unstructured: &unstructured.Unstructured{Object: doc.obj}, Source: Source{File: file, Line: doc.line}}}
	}
	objs := make([]Object, 0, len(items))
	for i, it := range items {
		line := doc.line
		if i < len(doc.items) {
			line = doc.items[i]
		}
		m, ok := it.(map[string]any)
		if !ok {
			ps.add(Problem{File: file, Line: line, Rule: RuleNotObject, Message: kind + " item is not an object"})
			continue
		}
		objs = append(objs, Object{Unstructured: &unstructured.Unstructured{Object: m}, Source: Source{File: file, Line: line}})
	}
	return objs
}

// walkedFile says whether the entry p met in a walk (not a directory) is a file to read: a
// regular file, or a symlink to a file inside the tree. A symlink that leaves the tree is
// reported; one to a directory is not followed (a cycle would never end). special is true
// for other kinds (submodules, devices), which the caller reports or skips.
func (r *renderer) walkedFile(p string, d fs.DirEntry) (file, special bool) {
	if d.Type()&fs.ModeSymlink != 0 {
		// Stat follows the link; the file system refuses one that leaves the tree.
		fi, err := fs.Stat(r.fsys, p)
		if err != nil {
			r.ps.add(Problem{File: p, Rule: RuleRead, Message: "cannot read: " + describe(err),
				Hint: "symlinks must stay inside the repository"})
			return false, false
		}
		return !fi.IsDir(), false
	}
	if !d.Type().IsRegular() {
		return false, true
	}
	return true, false
}
