package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/ignore"
)

// helm renders the chart in dir with the Helm SDK's template engine. The chart is loaded
// from in-memory copies of its own files only, so .Files cannot see anything else; its
// dependencies must be vendored under charts/ (nothing is downloaded); lookup always
// returns nothing because the engine has no cluster client; DNS lookups stay disabled.
func (r *renderer) helm(dir string) []Object {
	ch := r.loadChart(dir)
	if ch == nil {
		return nil
	}
	paths := chartPaths(dir, ch)
	before := len(r.ps)
	r.checkDependencies(dir, ch)
	r.checkSchemas(dir, ch)
	r.checkFileRefs(dir, ch)
	vals, valuesFiles := r.values()
	if len(r.ps) > before {
		return nil
	}
	caps, ok := r.capabilities()
	if !ok {
		return nil
	}
	if c := ch.Metadata.KubeVersion; c != "" && !chartutil.IsCompatibleRange(c, caps.KubeVersion.String()) {
		r.ps.add(Problem{File: path.Join(dir, "Chart.yaml"), Rule: RuleHelm,
			Message: fmt.Sprintf("chart requires kubeVersion %s, the cluster runs %s", c, caps.KubeVersion.String())})
		return nil
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		r.ps.add(Problem{File: path.Join(dir, "Chart.yaml"), Rule: RuleHelmDependency, Message: err.Error()})
		return nil
	}
	ns := r.opts.DefaultNamespace
	if ns == "" {
		ns = "default"
	}
	top, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: r.opts.Release, Namespace: ns, Revision: 1, IsInstall: true}, caps)
	if err != nil {
		r.ps.add(Problem{File: path.Join(dir, "values.yaml"), Rule: RuleHelmValues, Message: strings.TrimSpace(err.Error())})
		return nil
	}
	rendered, err := engine.Engine{}.Render(ch, top)
	if err != nil {
		r.ps.add(r.templateProblem(dir, templateSources(dir, ch, paths), err))
		return nil
	}
	objs := r.helmObjects(dir, ch, paths, rendered)
	r.warnings = append(r.warnings, newHelmScope(ch, paths, valuesFiles).unread()...)
	return objs
}

// loadChart loads the chart in dir from copies of its files, or reports why it cannot.
func (r *renderer) loadChart(dir string) *chart.Chart {
	start := len(r.ps)
	files := r.chartFiles(dir)
	if files == nil || len(r.ps) > start {
		return nil
	}
	// Helm parses Chart.yaml and values.yaml with an unbounded parser: check them first.
	for _, f := range files {
		if b := path.Base(f.Name); (b == "values.yaml" || b == "Chart.yaml" || b == "requirements.yaml") && !strings.Contains(f.Name, "templates/") {
			before := len(r.ps)
			decodeStream(path.Join(dir, f.Name), f.Data, r.limits(), &r.ps)
			if len(r.ps) > before {
				return nil
			}
		}
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		r.ps.add(Problem{File: path.Join(dir, "Chart.yaml"), Rule: RuleHelm, Message: "cannot load the chart: " + err.Error()})
		return nil
	}
	return ch
}

// chartFiles copies the chart's files, honouring .helmignore as `helm` does.
func (r *renderer) chartFiles(dir string) []*loader.BufferedFile {
	rules := ignore.Empty()
	if data, err := fs.ReadFile(r.fsys, path.Join(dir, ".helmignore")); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			r.ps.add(Problem{File: path.Join(dir, ".helmignore"), Rule: RuleHelm, Message: err.Error()})
			return nil
		}
	}
	rules.AddDefaults()
	files := []*loader.BufferedFile{}
	err := fs.WalkDir(r.fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if r.ctx.Err() != nil {
			return fs.SkipAll
		}
		if err != nil {
			r.ps.add(Problem{File: p, Rule: RuleRead, Message: "cannot read: " + describe(err)})
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		if rel == "" {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if rules.Ignore(rel, fi) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if file, _ := r.walkedFile(p, d); !file {
			return nil
		}
		if data := r.readFile(p); data != nil {
			files = append(files, &loader.BufferedFile{Name: rel, Data: data})
		}
		return nil
	})
	if err != nil {
		r.ps.add(Problem{File: dir, Rule: RuleRead, Message: "cannot read the chart: " + err.Error()})
		return nil
	}
	return files
}

// checkDependencies refuses a chart whose Chart.yaml lists a dependency that is not in
// charts/: `helm install` would download it, gitopsd never does.
func (r *renderer) checkDependencies(dir string, ch *chart.Chart) {
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	for _, dep := range ch.Metadata.Dependencies {
		if !have[dep.Name] {
			r.ps.add(Problem{File: path.Join(dir, "Chart.yaml"), Rule: RuleHelmDependency,
				Message: fmt.Sprintf("dependency %q is not in charts/", dep.Name),
				Hint:    "run `helm dependency build` and commit charts/; gitopsd never downloads charts"})
		}
	}
	for _, sub := range ch.Dependencies() {
		r.checkDependencies(path.Join(dir, "charts", sub.Name()), sub)
	}
}

// checkSchemas refuses values.schema.json references that are not inside the schema
// itself: Helm's validator would read them from the host's files or over HTTP.
func (r *renderer) checkSchemas(dir string, ch *chart.Chart) {
	if ch.Schema != nil {
		file := path.Join(dir, "values.schema.json")
		var doc any
		if err := json.Unmarshal(ch.Schema, &doc); err != nil {
			r.ps.add(Problem{File: file, Rule: RuleHelmSchema, Message: "invalid JSON: " + err.Error()})
		} else if ref := outsideRef(doc); ref != "" {
			r.ps.add(Problem{File: file, Line: lineFinder(ch.Schema)(strconv.Quote(ref)), Rule: RuleHelmSchema,
				Message: fmt.Sprintf("schema reference %q points outside the schema", ref),
				Hint:    "inline the referenced schema; only references starting with # are followed"})
		}
	}
	for _, sub := range ch.Dependencies() {
		r.checkSchemas(path.Join(dir, "charts", sub.Name()), sub)
	}
}

// metaSchemas are the JSON Schema drafts the validator knows without loading anything.
var metaSchemas = map[string]bool{
	"http://json-schema.org/draft-04/schema":       true,
	"http://json-schema.org/draft-06/schema":       true,
	"http://json-schema.org/draft-07/schema":       true,
	"https://json-schema.org/draft/2019-09/schema": true,
	"https://json-schema.org/draft/2020-12/schema": true,
}

// outsideRef returns the first $ref, $dynamicRef, $recursiveRef or unknown $schema that
// is not local to the document, or "".
func outsideRef(v any) string {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			s, isStr := val.(string)
			switch {
			case isStr && (k == "$ref" || k == "$dynamicRef" || k == "$recursiveRef") && !strings.HasPrefix(s, "#"):
				return s
			case isStr && k == "$schema" && !metaSchemas[strings.TrimSuffix(s, "#")]:
				return s
			case isStr && k == "$id":
				// An $id changes the base of relative references; with only #-references
				// allowed it cannot reach outside, so it is accepted.
			default:
				if ref := outsideRef(val); ref != "" {
					return ref
				}
			}
		}
	case []any:
		for _, it := range x {
			if ref := outsideRef(it); ref != "" {
				return ref
			}
		}
	}
	return ""
}

// values reads and merges the environment's values files, later files winning, as
// `helm -f a.yaml -f b.yaml` does. It returns the files it read too, in order.
func (r *renderer) values() (map[string]any, []valuesFile) {
	vals := map[string]any{}
	var files []valuesFile
	for _, f := range r.opts.ValuesFiles {
		name, data := r.valuesFile(f)
		if data == nil {
			continue
		}
		v, err := chartutil.ReadValues(data)
		if err != nil {
			r.ps.add(Problem{File: name, Rule: RuleHelmValues, Message: err.Error()})
			continue
		}
		files = append(files, valuesFile{name: name, data: data})
		vals = mergeValues(vals, v)
	}
	return vals, files
}

// valuesFile reads the values file f (a path of repos.yaml), decrypted if it is a SOPS
// file, and checks it with the bounded decoder: Helm's own parser expands aliases freely.
// data is nil after a problem, or when the file holds no document.
func (r *renderer) valuesFile(f string) (name string, data []byte) {
	name, err := cleanPath(f)
	if err != nil {
		r.ps.add(Problem{File: f, Rule: RuleHelmValues, Message: "invalid values file path", Hint: "paths are relative to the repository root"})
		return f, nil
	}
	if _, err := fs.Stat(r.fsys, name); err != nil {
		r.ps.add(Problem{File: name, Rule: RuleHelmValues, Message: "values file: " + describe(err),
			Hint: "values paths in repos.yaml are relative to the repository root"})
		return name, nil
	}
	if data = r.readFile(name); data == nil {
		return name, nil
	}
	if pr := textProblem(name, data); pr != nil {
		r.ps.add(*pr)
		return name, nil
	}
	before := len(r.ps)
	docs := decodeStream(name, data, r.limits(), &r.ps)
	if len(r.ps) > before || len(docs) == 0 {
		return name, nil
	}
	return name, data
}

func mergeValues(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = mergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

// capabilities builds .Capabilities from the options (the target cluster's versions).
func (r *renderer) capabilities() (*chartutil.Capabilities, bool) {
	caps := chartutil.DefaultCapabilities.Copy()
	if v := r.opts.KubeVersion; v != "" {
		kv, err := chartutil.ParseKubeVersion(v)
		if err != nil {
			r.ps.add(Problem{Rule: RuleHelm, Message: fmt.Sprintf("cluster version %q: %v", v, err)})
			return nil, false
		}
		caps.KubeVersion = *kv
	}
	caps.APIVersions = append(append(chartutil.VersionSet{}, caps.APIVersions...), r.opts.APIVersions...)
	return caps, true
}

var templateLocRe = regexp.MustCompile(`([^\s():"<>]+/templates/[^\s():"<>]+):(\d+)`)

// templateProblem ties a Helm rendering error to the deepest template and line it names
// (for an error inside an included helper, the helper), and keeps only the reason: nested
// includes repeat the whole chain in the message.
func (r *renderer) templateProblem(dir string, srcs map[string]chartTemplate, err error) Problem {
	msg := strings.TrimSpace(err.Error())
	p := Problem{File: dir, Rule: RuleHelm}
	if locs := templateLocRe.FindAllStringSubmatch(msg, -1); locs != nil {
		last := locs[len(locs)-1]
		p.File = templatePath(dir, last[1])
		if t, ok := srcs[last[1]]; ok {
			p.File = t.file
		}
		p.Line, _ = strconv.Atoi(last[2])
	}
	reason := msg
	if i := max(strings.LastIndex(msg, "): "), strings.LastIndex(msg, ">: ")); i >= 0 {
		reason = strings.TrimPrefix(msg[i+3:], "error calling include: ")
	}
	if strings.Contains(msg, "parse error") {
		reason = "parse error: " + reason
	}
	if len(reason) > 300 {
		reason = reason[:150] + " … " + reason[len(reason)-150:]
	}
	p.Message = reason
	return p
}

// templatePath maps Helm's template name (chart/templates/x.yaml,
// chart/charts/sub/templates/y.yaml) to the file in the repository, for a chart whose
// subcharts are named as their directories (see chartPaths).
func templatePath(dir, name string) string {
	if _, rest, ok := strings.Cut(name, "/"); ok {
		return path.Join(dir, rest)
	}
	return path.Join(dir, name)
}

// chartPaths maps each file of ch and its subcharts to its path in the repository. It is
// taken before dependencies are processed: Helm then renames an aliased subchart, and its
// entry in Chart.yaml, after the alias, and the name of its directory is lost. Processing
// copies charts but keeps their files, so the map holds for the processed chart too.
func chartPaths(dir string, ch *chart.Chart) map[*chart.File]string {
	out := map[*chart.File]string{}
	var walk func(c *chart.Chart)
	walk = func(c *chart.Chart) {
		base := templatePath(dir, c.ChartFullPath()+"/")
		for _, fs := range [][]*chart.File{c.Templates, c.Raw, c.Files} {
			for _, f := range fs {
				out[f] = path.Join(base, f.Name)
			}
		}
		for _, d := range c.Dependencies() {
			walk(d)
		}
	}
	walk(ch)
	return out
}

// chartTemplate is a template as the engine names it, its file and its text.
type chartTemplate struct {
	file string
	data []byte
}

// templateSources maps the engine's template names to their files and text, subcharts
// included; paths are chartPaths of the chart before its dependencies were processed.
func templateSources(dir string, ch *chart.Chart, paths map[*chart.File]string) map[string]chartTemplate {
	out := map[string]chartTemplate{}
	var walk func(c *chart.Chart)
	walk = func(c *chart.Chart) {
		for _, t := range c.Templates {
			name := path.Join(c.ChartFullPath(), t.Name)
			file, ok := paths[t]
			if !ok {
				file = templatePath(dir, name)
			}
			out[name] = chartTemplate{file: file, data: t.Data}
		}
		for _, d := range c.Dependencies() {
			walk(d)
		}
	}
	walk(ch)
	return out
}

// helmObjects decodes the rendered templates and the charts' crds/ files. Hooks are kept
// with their annotations: desired.PlanSync runs them as Argo CD would, and names the test
// hooks it does not run in a warning.
func (r *renderer) helmObjects(dir string, ch *chart.Chart, paths map[*chart.File]string, rendered map[string]string) []Object {
	var out int64
	budget := func(file string, n int) bool {
		if out += int64(n); out > r.opts.MaxBytes {
			r.ps.add(Problem{File: file, Rule: RuleTooLarge,
				Message: fmt.Sprintf("rendered chart is more than the limit of %s", size(r.opts.MaxBytes)),
				Hint:    "look for a template that repeats without bound"})
			return false
		}
		return true
	}
	sources := templateSources(dir, ch, paths)
	var objs []Object
	for _, crd := range ch.CRDObjects() {
		file, ok := paths[crd.File]
		if !ok {
			file = templatePath(dir, crd.Filename)
		}
		if !budget(file, len(crd.File.Data)) {
			return nil
		}
		objs = append(objs, r.objects(file, crd.File.Data, &r.ps)...)
	}
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		base := path.Base(n)
		if base == "NOTES.txt" || strings.HasPrefix(base, "_") || strings.TrimSpace(rendered[n]) == "" {
			continue
		}
		file := sources[n].file
		if !budget(file, len(rendered[n])) {
			return nil
		}
		var ps problems
		docs := decodeStream(file, []byte(rendered[n]), r.limits(), &ps)
		for _, p := range ps {
			// Lines of rendered output are not lines of the template: say so.
			if p.Line > 0 {
				p.Message = fmt.Sprintf("line %d of the rendered output: %s", p.Line, p.Message)
				p.Line = 0
			}
			r.ps.add(p)
		}
		var tobjs []Object
		for _, d := range docs {
			tobjs = append(tobjs, expand(file, d, &r.ps)...)
		}
		objs = append(objs, withKindLines(tobjs, sources[n].data)...)
	}
	return objs
}

// withKindLines sets the line of each object rendered from template src to the best line
// Helm allows: its top-level "kind: <kind>" line. Rendered lines are not template lines,
// so the n-th object of a kind gets the n-th such line only when the template has one
// line per rendered object of that kind (not when the kind is templated, or an object is
// behind an if or in a range); otherwise 0.
func withKindLines(objs []Object, src []byte) []Object {
	count := map[string]int{}
	for _, o := range objs {
		count[o.GetKind()]++
	}
	lines := map[string][]int{}
	seen := map[string]int{}
	for i, o := range objs {
		kind := o.GetKind()
		if _, ok := lines[kind]; !ok {
			lines[kind] = templateKindLines(src, kind)
		}
		objs[i].Source.Line = 0
		if l := lines[kind]; len(l) == count[kind] {
			objs[i].Source.Line = l[seen[kind]]
		}
		seen[kind]++
	}
	return objs
}

// templateKindLines are the lines of src that are "kind: <kind>" at the top level.
func templateKindLines(src []byte, kind string) []int {
	if kind == "" {
		return nil
	}
	re, err := regexp.Compile(`(?m)^kind:[ \t]*["']?` + regexp.QuoteMeta(kind) + `["']?[ \t]*$`)
	if err != nil {
		return nil
	}
	var lines []int
	for _, loc := range re.FindAllIndex(src, -1) {
		lines = append(lines, lineAt(src, loc[0]))
	}
	return lines
}
