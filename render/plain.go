package render

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// plain renders a directory of YAML and JSON manifests, recursively, in lexical order.
// Hidden files and directories (.git, .gitopsd, .github) are skipped. Files without a
// manifest extension are ignored unless their text looks like a manifest; binary ones are
// refused, since a binary file in the manifest path is almost always a mistake.
// Symlinked directories are not walked (a cycle would never end); symlinked files are.
func (r *renderer) plain(root string) []Object {
	var objs []Object
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
		objs = append(objs, r.plainFile(p)...)
		return nil
	})
	if err != nil {
		r.ps.add(Problem{File: root, Rule: RuleRead, Message: "cannot read: " + describe(err)})
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

// plainFile decodes one manifest file.
func (r *renderer) plainFile(p string) []Object {
	data := r.readFile(p)
	if data == nil {
		return nil
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if pr := textProblem(p, data); pr != nil {
		r.ps.add(*pr)
		return nil
	}
	return r.objects(p, data)
}

// objects decodes a stream into objects sourced at file, expanding List kinds.
func (r *renderer) objects(file string, data []byte) []Object {
	var objs []Object
	for _, doc := range decodeStream(file, data, r.limits(), &r.ps) {
		objs = append(objs, r.expand(file, doc)...)
	}
	return objs
}

// expand returns a document's object, or the items of a List (v1 List, FooList).
func (r *renderer) expand(file string, doc document) []Object {
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
			r.ps.add(Problem{File: file, Line: line, Rule: RuleNotObject, Message: kind + " item is not an object"})
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
