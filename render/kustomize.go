package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// memRoot is where the repository sits in kustomize's in-memory file system; it is
// stripped from kustomize's messages.
const memRoot = "/repo"

const originKey = "config.kubernetes.io/origin"

// kustomize builds the kustomization in dir with krusty, on an in-memory copy of the
// tree, so that it can read nothing else. Before that, every kustomization in the copy is
// checked for what krusty would fetch or run: remote bases (krusty would run git clone),
// URLs (it would GET them), Helm chart inflation (it would run helm) and paths climbing
// above the repository. Exec and function plugins stay disabled (krusty's defaults).
func (r *renderer) kustomize(dir string) []Object {
	mem, kusts := r.copyTree()
	if r.ctx.Err() != nil || len(r.ps) > 0 {
		return nil
	}
	before := len(r.ps)
	for _, k := range kusts {
		r.checkKustomization(mem, k)
	}
	if len(r.ps) > before {
		return nil
	}
	if err := r.localize(mem, kusts); err != nil {
		r.ps.add(Problem{Rule: RuleKustomize, Message: stripRoot(err.Error())})
		return nil
	}
	top := ""
	for _, n := range kustomizationNames {
		if p := path.Join(dir, n); mem.Exists(path.Join(memRoot, p)) {
			top = p
			break
		}
	}
	if top == "" {
		r.ps.add(Problem{File: dir, Rule: RuleKustomize, Message: "no kustomization.yaml here",
			Hint: "add one, or set render.type for the environment"})
		return nil
	}
	injected := r.addBuildMetadata(mem, top)

	opts := krusty.MakeDefaultOptions() // root-only loads, builtin plugins only
	m, err := krusty.MakeKustomizer(opts).Run(mem, path.Join(memRoot, dir))
	if err != nil {
		r.ps.add(r.kustomizeProblem(err, top, kusts))
		return nil
	}
	var objs []Object
	var out int64
	lines := map[string][]document{} // documents of each source file, for lines
	patches := map[string][]kustPatch{}
	for _, res := range m.Resources() {
		src := r.origin(dir, res)
		var name string
		src.Line, name = r.sourceLine(mem, lines, src.File, res.GetKind(), res.GetName())
		if isKustomization(src.File) {
			src.Line = r.generatorLine(src.File, res)
		}
		src.Patches = r.patchesOf(patches, dir, res, name)
		if len(injected) > 0 {
			anns := res.GetAnnotations()
			for _, k := range injected {
				delete(anns, k)
			}
			if err := res.SetAnnotations(anns); err != nil {
				r.ps.add(Problem{File: src.File, Rule: RuleKustomize, Message: err.Error()})
				continue
			}
		}
		b, err := res.MarshalJSON()
		if err != nil {
			r.ps.add(Problem{File: src.File, Rule: RuleKustomize, Message: err.Error()})
			continue
		}
		if out += int64(len(b)); out > r.opts.MaxBytes {
			r.ps.add(Problem{File: top, Rule: RuleTooLarge,
				Message: fmt.Sprintf("kustomize output is more than the limit of %s", size(r.opts.MaxBytes))})
			return nil
		}
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal(b, &u.Object); err != nil {
			r.ps.add(Problem{File: src.File, Rule: RuleKustomize, Message: err.Error()})
			continue
		}
		objs = append(objs, Object{Unstructured: u, Source: src})
	}
	r.checkGenerators(objs)
	return objs
}

// copyTree lays the whole tree out in memory under memRoot (bases may be anywhere in the
// repository) and returns the paths of the kustomization files. Kustomizations are read
// now, to be checked; other files are read when kustomize first asks for them, so that a
// large or broken file the build never uses costs nothing.
func (r *renderer) copyTree() (filesys.FileSystem, []string) {
	mem := &lazyFS{FileSystem: filesys.MakeFsInMemory(), r: r, lazy: map[string]string{}}
	var kusts []string
	err := fs.WalkDir(r.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if r.ctx.Err() != nil {
			return fs.SkipAll
		}
		if err != nil {
			r.ps.add(Problem{File: p, Rule: RuleRead, Message: "cannot read: " + describe(err)})
			return nil
		}
		if d.IsDir() {
			return mem.MkdirAll(path.Join(memRoot, p))
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// A symlinked directory is not copied (it could be a cycle); a link that
			// leaves the tree becomes a problem if kustomize reads it.
			if fi, err := fs.Stat(r.fsys, p); err == nil && fi.IsDir() {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil // a submodule: kustomize will report it missing if it is used
		}
		if !isKustomization(p) {
			return mem.placeholder(p)
		}
		data := r.readFile(p)
		if data == nil {
			return nil
		}
		r.checkAliases(p, data)
		kusts = append(kusts, p)
		return mem.FileSystem.WriteFile(path.Join(memRoot, p), data)
	})
	if err != nil {
		r.ps.add(Problem{Rule: RuleRead, Message: "cannot copy the tree: " + err.Error()})
	}
	return mem, kusts
}

// lazyFS is kustomize's in-memory file system holding empty placeholders for the files of
// the tree, filled from the tree (under the renderer's bounds) on first read.
type lazyFS struct {
	filesys.FileSystem
	r    *renderer
	lazy map[string]string // in-memory path -> tree path, until loaded
}

func (l *lazyFS) placeholder(p string) error {
	mp := path.Join(memRoot, p)
	l.lazy[mp] = p
	return l.FileSystem.WriteFile(mp, nil)
}

// load fills a placeholder; a file that cannot be read (too large, a symlink out of the
// tree, a YAML bomb) has been reported as a problem and fails kustomize's read.
func (l *lazyFS) load(p string) error {
	mp := filepath.ToSlash(filepath.Clean(p))
	tp, ok := l.lazy[mp]
	if !ok {
		return nil
	}
	delete(l.lazy, mp)
	before := len(l.r.ps)
	data := l.r.readFile(tp)
	if data != nil {
		l.r.checkAliases(tp, data)
	}
	if len(l.r.ps) > before {
		_ = l.FileSystem.RemoveAll(mp)
		return fmt.Errorf("%s: %s", tp, l.r.ps[len(l.r.ps)-1].Message)
	}
	return l.FileSystem.WriteFile(mp, data)
}

func (l *lazyFS) ReadFile(p string) ([]byte, error) {
	if err := l.load(p); err != nil {
		return nil, err
	}
	return l.FileSystem.ReadFile(p)
}

func (l *lazyFS) Open(p string) (filesys.File, error) {
	if err := l.load(p); err != nil {
		return nil, err
	}
	return l.FileSystem.Open(p)
}

// checkAliases refuses a YAML bomb before kustomize's parser, which expands aliases
// without a bound, sees it. Other syntax errors are left for kustomize to report if the
// file is used at all.
func (r *renderer) checkAliases(p string, data []byte) {
	if !isManifestName(p) && !isKustomization(p) {
		return
	}
	amp := bytes.IndexByte(data, '&')
	if amp < 0 || bytes.IndexByte(data[amp:], '*') < 0 {
		return
	}
	var ps problems
	decodeStream(p, data, r.limits(), &ps)
	for _, pr := range ps {
		if pr.Rule == RuleYAMLAliases {
			r.ps.add(pr)
		}
	}
}

// The fields of a kustomization that name files: lists of paths, lists of items with a
// path, and generators with files, envs and env. Checked, localized, and searched for the
// entry that names a missing file, from these lists.
var (
	refLists = []string{"resources", "bases", "components", "crds", "configurations",
		"generators", "transformers", "validators", "patchesStrategicMerge"}
	refItems        = []string{"patches", "patchesJson6902", "replacements"}
	generatorFields = []string{"configMapGenerator", "secretGenerator"}
)

func isKustomization(p string) bool {
	return slices.Contains(kustomizationNames, path.Base(p))
}

// Forms of a reference kustomize fetches instead of reading from the tree. Its loader
// tries a reference as a git repository before it looks at the file system, so a
// reference is refused when it is merely close to one of these, even if a local path of
// that name exists.
var (
	// A scheme (https://, ssh://, file://, ...) or a forced getter (git::, s3::, ...).
	schemeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*(://|::)`)
	// user@host:path and user@host/path: kustomize takes any user name as ssh.
	userHostRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*@[^/:]+[:/]`)
	// host:path, git's scp-like form: a colon before the first slash.
	scpRe = regexp.MustCompile(`^[^/]*:`)
	// Forge shorthands, in any case (github.com/org/repo/path).
	forgeRe = regexp.MustCompile(`(?i)^(github\.com|gitlab\.com|bitbucket\.org)[/:]`)
	// Markers of a repository inside a reference: a query (?ref=), the repo//path
	// separator, Azure's _git/ and a .git directory.
	repoMarkerRe = regexp.MustCompile(`\?|//|(^|/)_git/|\.git(/|$)`)
)

// isRemote reports whether kustomize would, or might, fetch ref over the network.
func isRemote(ref string) bool {
	for _, re := range []*regexp.Regexp{schemeRe, userHostRe, scpRe, forgeRe, repoMarkerRe} {
		if re.MatchString(ref) {
			return true
		}
	}
	return false
}

// refChecker checks the references of one file: file is where they are written (for
// file:line), dir the kustomization root they are relative to.
type refChecker struct {
	r         *renderer
	file, dir string
	line      func(string) int
}

// check refuses ref, named under field, if it is remote or leaves the repository.
func (c refChecker) check(field, ref string) {
	if strings.Contains(ref, "\n") {
		return // an inline patch or config, not a path
	}
	ref = strings.TrimSpace(ref)
	if i := strings.Index(ref, "="); i >= 0 && (field == "files") {
		ref = ref[i+1:] // key=path
	}
	if ref == "" {
		return
	}
	p := Problem{File: c.file, Line: c.line(ref), Rule: RuleKustomizeRemote}
	switch {
	case isRemote(ref):
		p.Message = fmt.Sprintf("%s: %q is remote; gitopsd only builds what is in the repository", field, ref)
		p.Hint = "vendor it into the repository and refer to it by a path relative to the kustomization"
	case path.IsAbs(ref):
		p.Rule = RuleOutsideRepo
		p.Message = fmt.Sprintf("%s: %q is an absolute path", field, ref)
		p.Hint = "use a path relative to the kustomization"
	default:
		if j := path.Join(c.dir, ref); j == ".." || strings.HasPrefix(j, "../") {
			p.Rule = RuleOutsideRepo
			p.Message = fmt.Sprintf("%s: %q points outside the repository", field, ref)
			p.Hint = "bases must live in the same repository"
		} else {
			return
		}
	}
	c.r.ps.add(p)
}

// checkKustomization refuses remote references and paths above the repository root in
// one kustomization file, and in the generator, transformer and validator configurations
// it names (krusty loads their files the same way).
func (r *renderer) checkKustomization(mem filesys.FileSystem, file string) {
	data, err := mem.ReadFile(path.Join(memRoot, file))
	if err != nil {
		return
	}
	docs := decodeStream(file, data, r.limits(), &r.ps)
	if len(docs) == 0 {
		return
	}
	line := lineFinder(data)
	k := docs[0].obj
	dir := path.Dir(file)
	c := refChecker{r: r, file: file, dir: dir, line: line}
	for _, f := range refLists {
		for _, s := range strings_(k[f]) {
			c.check(f, s)
		}
	}
	for _, f := range refItems {
		for _, it := range maps(k[f]) {
			if s, ok := it["path"].(string); ok {
				c.check(f, s)
			}
		}
	}
	if o, ok := k["openapi"].(map[string]any); ok {
		if s, ok := o["path"].(string); ok {
			c.check("openapi", s)
		}
	}
	for _, f := range generatorFields {
		for _, g := range maps(k[f]) {
			for _, s := range strings_(g["files"]) {
				c.check("files", s)
			}
			for _, s := range strings_(g["envs"]) {
				c.check(f, s)
			}
			if s, ok := g["env"].(string); ok {
				c.check(f, s)
			}
		}
	}
	for _, f := range []string{"helmCharts", "helmChartInflationGenerator", "helmGlobals"} {
		if _, ok := k[f]; ok {
			r.ps.add(helmProblem(file, line(f+":"), f))
		}
	}
	for _, f := range []string{"generators", "transformers", "validators"} {
		for _, s := range strings_(k[f]) {
			r.checkPluginConfigs(mem, c, s)
		}
	}
}

func helmProblem(file string, line int, what string) Problem {
	return Problem{File: file, Line: line, Rule: RuleKustomizeRemote,
		Message: what + " is not supported: it runs helm and may download charts",
		Hint:    "render the chart with render.type: helm in its own environment, or commit its output"}
}

// checkPluginConfigs checks one entry of generators, transformers or validators: an
// inline configuration, or a file of configurations (a directory is a kustomization, and
// checked as one). Their paths are relative to the kustomization, like its own.
func (r *renderer) checkPluginConfigs(mem filesys.FileSystem, c refChecker, entry string) {
	var docs []document
	if strings.Contains(entry, "\n") {
		var ignored problems // krusty reports a broken inline configuration itself
		docs = decodeStream(c.file, []byte(entry), r.limits(), &ignored)
	} else {
		if isRemote(entry) || path.IsAbs(entry) {
			return // refused already
		}
		p := path.Join(c.dir, strings.TrimSpace(entry))
		mp := path.Join(memRoot, p)
		if strings.HasPrefix(p, "../") || !mem.Exists(mp) || mem.IsDir(mp) {
			return
		}
		data, err := mem.ReadFile(mp)
		if err != nil {
			return // a problem already names it
		}
		docs = decodeStream(p, data, r.limits(), &r.ps)
		c.file, c.line = p, lineFinder(data)
	}
	for _, d := range docs {
		if kind, _ := d.obj["kind"].(string); kind == "HelmChartInflationGenerator" {
			r.ps.add(helmProblem(c.file, c.line(kind), kind))
			continue
		}
		checkPluginPaths(c, d.obj)
	}
}

// pluginPathKeys are the fields of builtin plugin configurations that name files krusty
// loads (ConfigMapGenerator's files and envs, PatchTransformer's path, ...).
var pluginPathKeys = []string{"path", "paths", "files", "envs", "env"}

// checkPluginPaths checks every path-valued field anywhere in one configuration.
func checkPluginPaths(c refChecker, v any) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for key := range v {
			keys = append(keys, key)
		}
		slices.Sort(keys) // problems in a stable order
		for _, key := range keys {
			val := v[key]
			if slices.Contains(pluginPathKeys, key) {
				if s, ok := val.(string); ok {
					c.check(key, s)
				}
				for _, s := range strings_(val) {
					c.check(key, s)
				}
			}
			checkPluginPaths(c, val)
		}
	case []any:
		for _, it := range v {
			checkPluginPaths(c, it)
		}
	}
}

func strings_(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, it := range l {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func maps(v any) []map[string]any {
	l, _ := v.([]any)
	var out []map[string]any
	for _, it := range l {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// lineFinder returns the line of the first occurrence of a string in data, or 0.
func lineFinder(data []byte) func(string) int {
	s := string(data)
	return func(needle string) int {
		if i := strings.Index(s, needle); i >= 0 {
			return strings.Count(s[:i], "\n") + 1
		}
		return 0
	}
}

// buildMetadata are the build metadata gitopsd asks kustomize for, and the annotations
// each adds to every resource: the file of each resource, and the kustomizations whose
// transformers (patches) ran over it.
var buildMetadata = []struct{ option, annotation string }{
	{types.OriginAnnotations, originKey},
	{types.TransformerAnnotations, transformationsKey},
}

// addBuildMetadata adds what buildMetadata lists and the top kustomization does not ask
// for already to its buildMetadata. It returns the annotations it so added, which are
// removed from the objects afterwards; those the kustomization asked for stay.
func (r *renderer) addBuildMetadata(mem filesys.FileSystem, top string) []string {
	p := path.Join(memRoot, top)
	data, err := mem.ReadFile(p)
	if err != nil {
		return nil
	}
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil || k == nil {
		return nil // krusty will report it
	}
	meta, _ := k["buildMetadata"].([]any)
	var added []string
	for _, b := range buildMetadata {
		if !slices.Contains(meta, any(b.option)) {
			meta = append(meta, b.option)
			added = append(added, b.annotation)
		}
	}
	if len(added) == 0 {
		return nil
	}
	k["buildMetadata"] = meta
	out, err := yaml.Marshal(k)
	if err != nil || mem.WriteFile(p, out) != nil {
		return nil
	}
	return added
}

// origin reads the file a resource came from out of its origin annotation.
func (r *renderer) origin(dir string, res *resource.Resource) Source {
	o, err := res.GetOrigin()
	if err != nil || o == nil {
		return Source{File: dir}
	}
	if o.Path != "" && o.Repo == "" {
		return Source{File: path.Join(dir, o.Path)}
	}
	if o.ConfiguredIn != "" {
		return Source{File: path.Join(dir, o.ConfiguredIn)}
	}
	return Source{File: dir}
}

// sourceLine finds the line of the document a resource came from, and the name it has
// there: the one in its file with the same kind whose name the final name contains
// (prefixes and suffixes are added by transformers). It returns 0 and "" when that is
// ambiguous or unknown.
func (r *renderer) sourceLine(mem filesys.FileSystem, cache map[string][]document, file, kind, name string) (int, string) {
	docs, ok := cache[file]
	if !ok {
		if data, err := mem.ReadFile(path.Join(memRoot, file)); err == nil && !isKustomization(file) {
			var ignored problems
			docs = decodeStream(file, data, r.limits(), &ignored)
		}
		cache[file] = docs
	}
	line, found := 0, ""
	for _, d := range docs {
		k, _ := d.obj["kind"].(string)
		md, _ := d.obj["metadata"].(map[string]any)
		n, _ := md["name"].(string)
		if k == kind && n != "" && strings.Contains(name, n) && len(n) > len(found) {
			line, found = d.line, n
		}
	}
	return line, found
}

// generatorLine is the line of the entry of kustomization file whose generator made res
// (configMapGenerator's or secretGenerator's item whose name the final name contains), or
// 0. The file is read as pushed: the in-memory copy was rewritten.
func (r *renderer) generatorLine(file string, res *resource.Resource) int {
	o, err := res.GetOrigin()
	if err != nil || o == nil || o.ConfiguredBy.Kind == "" {
		return 0
	}
	field := strings.ToLower(o.ConfiguredBy.Kind[:1]) + o.ConfiguredBy.Kind[1:] // ConfigMapGenerator -> configMapGenerator
	roots := documentRoots(r.fsys, file)
	if len(roots) == 0 {
		return 0
	}
	list, _ := (&node{roots[0]}).value(field)
	if list == nil || list.Kind != yaml.SequenceNode {
		return 0
	}
	line, found := 0, ""
	for _, it := range list.Content {
		n, _ := (&node{resolve(it)}).value("name")
		if n != nil && n.Kind == yaml.ScalarNode && n.Value != "" && strings.Contains(res.GetName(), n.Value) && len(n.Value) > len(found) {
			line, found = it.Line, n.Value
		}
	}
	return line
}

func stripRoot(s string) string {
	s = strings.ReplaceAll(s, memRoot+"/", "")
	return strings.ReplaceAll(s, memRoot, ".")
}
