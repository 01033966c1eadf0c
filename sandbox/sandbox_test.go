package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopsd/gitopsd/internal/testfs"
	"github.com/gitopsd/gitopsd/internal/testgit"
	"github.com/gitopsd/gitopsd/render"
)

func TestMain(m *testing.M) {
	Main()
	os.Exit(m.Run())
}

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, data := range files {
		m[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return m
}

const cm = `apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
data: {a: "1", n: "2"}
`

func configMap(name string) string { return strings.Replace(cm, "%s", name, 1) }

func chart(templates map[string]string, values string) map[string]string {
	files := map[string]string{
		"chart/Chart.yaml":  "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"chart/values.yaml": values,
	}
	for name, t := range templates {
		files["chart/templates/"+name] = t
	}
	return files
}

// limits are the defaults of repos.yaml (config.DefaultRenderMemory and DefaultRenderCPU).
var limits = Limits{Memory: 512 << 20, CPU: 20 * time.Second}

func sandboxed(t *testing.T, files map[string]string, opts render.Options, lim Limits) *render.Result {
	t.Helper()
	res, err := Render(context.Background(), mapFS(files), opts, lim)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return res
}

// asJSON makes results comparable: objects as JSON, with their sources and the problems.
func asJSON(t *testing.T, res *render.Result) string {
	t.Helper()
	type obj struct {
		Object map[string]any
		Source render.Source
	}
	var v struct {
		Type     string
		Objects  []obj
		Problems []render.Problem
	}
	v.Type, v.Problems = res.Type, res.Problems
	for _, o := range res.Objects {
		v.Objects = append(v.Objects, obj{o.Object, o.Source})
	}
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSameAsInProcess renders plain YAML, a Kustomize overlay, a Helm chart and broken
// inputs both in process and in the sandbox: the results must be the same, problems,
// sources and lines included.
func TestSameAsInProcess(t *testing.T) {
	scope := func(gvk schema.GroupVersionKind) (bool, bool) {
		if gvk.Kind == "Widget" {
			return true, true
		}
		return gvk.Kind != "Namespace", gvk.Group == ""
	}
	cases := []struct {
		name  string
		files map[string]string
		opts  render.Options
	}{
		{"plain", map[string]string{
			"m/a.yaml":     configMap("a") + "---\n" + configMap("b"),
			"m/sub/c.yaml": configMap("c"),
			"m/w.yaml":     "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
		}, render.Options{Path: "m", DefaultNamespace: "shop", Scope: scope}},
		{"plain problems", map[string]string{
			"m/a.yaml": configMap("a") + "---\n" + configMap("a"),
			"m/b.yaml": "kind: [\n",
			"m/c.yaml": "apiVersion: v1\nkind: ConfigMap\n",
		}, render.Options{Path: "m", DefaultNamespace: "shop"}},
		{"kustomize", map[string]string{
			"base/kustomization.yaml":    "resources: [cm.yaml]\n",
			"base/cm.yaml":               configMap("settings"),
			"overlay/kustomization.yaml": "resources: [../base]\nnamePrefix: prod-\n",
		}, render.Options{Path: "overlay", DefaultNamespace: "shop"}},
		{"kustomize missing", map[string]string{
			"overlay/kustomization.yaml": "resources: [../nowhere]\n",
		}, render.Options{Path: "overlay", DefaultNamespace: "shop"}},
		{"helm", chart(map[string]string{
			"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}-cm}\ndata: {n: {{ .Values.n | quote }}}\n",
		}, "n: 3\n"), render.Options{Path: "chart", DefaultNamespace: "shop", Release: "web"}},
		{"helm error", chart(map[string]string{"cm.yaml": "{{ fail \"no\" }}"}, ""), render.Options{Path: "chart", DefaultNamespace: "shop"}},
		{"missing path", map[string]string{"x/a.yaml": configMap("a")}, render.Options{Path: "nowhere"}},
		// From git, with symlinks: the tree answers for a link, not for its target.
		{"git symlinks", map[string]string{
			"m/a.yaml":      configMap("a"),
			"m/inside.yaml": "symlink:a.yaml",
			"m/passwd.yaml": "symlink:/etc/passwd",
			"m/up.yaml":     "symlink:../../x.yaml",
		}, render.Options{Path: "m", DefaultNamespace: "shop"}},
		{"git helm symlink", chart(map[string]string{
			"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\ndata: {p: {{ .Files.Get \"files/passwd\" | quote }}}\n",
		}, ""), /* files/passwd added below */ render.Options{Path: "chart", DefaultNamespace: "shop"}},
	}
	cases[len(cases)-1].files["chart/files/passwd"] = "symlink:/etc/passwd"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tree fs.FS = mapFS(c.files)
			if strings.HasPrefix(c.name, "git ") {
				tree = testgit.GitTree(t, c.files)
			}
			want, err := render.Render(context.Background(), tree, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Render(context.Background(), tree, c.opts, limits)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(c.name, "git ") && len(got.Problems) == 0 {
				t.Errorf("a symlink out of the repository was not refused")
			}
			if w, g := asJSON(t, want), asJSON(t, got); w != g {
				t.Errorf("sandbox result differs:\n--- in process\n%s\n--- sandbox\n%s", w, g)
			}
			if c.name == "plain" && len(got.Objects) != 4 {
				t.Errorf("%d objects, want 4", len(got.Objects))
			}
		})
	}
	// Bad options are an error, as in process.
	if _, err := Render(context.Background(), mapFS(nil), render.Options{Type: "jsonnet"}, limits); err == nil ||
		!strings.Contains(err.Error(), "unknown type") {
		t.Errorf("bad type: %v", err)
	}
}

func wantLimit(t *testing.T, res *render.Result, rule, text string) {
	t.Helper()
	for _, p := range res.Problems {
		if p.Rule == rule && strings.Contains(p.Message, text) {
			return
		}
	}
	t.Fatalf("want a %s problem saying %q, got %+v (%d objects)", rule, text, res.Problems, len(res.Objects))
}

// heapGrowth runs f and returns how much this process's heap grew meanwhile.
func heapGrowth(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	if after.HeapSys < before.HeapSys {
		return 0
	}
	return after.HeapSys - before.HeapSys
}

// TestMemoryBomb is the attack of the issue: a six-line template that doubles a string 32
// times (4 GiB) once killed the daemon for memory in 4 s. It is now refused at its memory
// limit, and the memory it took was never this process's.
func TestMemoryBomb(t *testing.T) {
	files := chart(map[string]string{
		"bomb.yaml": `{{- $s := "x" }}{{ range until 32 }}{{ $s = print $s $s }}{{ end }}
apiVersion: v1
kind: ConfigMap
metadata: {name: bomb}
data: {s: {{ $s | quote }}}
`}, "")
	var res *render.Result
	grew := heapGrowth(func() {
		res = sandboxed(t, files, render.Options{Path: "chart", Type: render.TypeHelm, DefaultNamespace: "shop"}, Limits{Memory: 256 << 20, CPU: 20 * time.Second})
	})
	wantLimit(t, res, render.RuleLimit, "helm rendering used more than 256 MiB of memory (render.max_memory)")
	if grew > 64<<20 {
		t.Errorf("this process's heap grew by %d MiB during the render", grew>>20)
	}
}

// TestTplRecursion: a value that renders itself through tpl, the second attack of the
// issue (10 s to kill the daemon). It must be refused by a limit (memory, CPU or time, or
// Helm's own), never by taking this process down.
func TestTplRecursion(t *testing.T) {
	files := chart(map[string]string{
		"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r}\ndata: {s: {{ tpl .Values.t . | quote }}}\n",
	}, "t: '{{ tpl .Values.t . }}{{ tpl .Values.t . }}'\n")
	res := sandboxed(t, files, render.Options{Path: "chart", DefaultNamespace: "shop", Timeout: 20 * time.Second}, Limits{Memory: 256 << 20, CPU: 10 * time.Second})
	if len(res.Objects) != 0 || len(res.Problems) != 1 {
		t.Fatalf("want one problem and no object, got %+v (%d objects)", res.Problems, len(res.Objects))
	}
	switch p := res.Problems[0]; p.Rule {
	case render.RuleLimit, render.RuleTimeout, render.RuleHelm:
		t.Logf("refused: %s", p)
	default:
		t.Fatalf("refused for an unexpected reason: %s", p)
	}
}

// spin iterates 10^8 times and allocates little: many seconds of CPU.
const spin = `{{ range until 1000 }}{{ range until 1000 }}{{ range until 100 }}{{ end }}{{ end }}{{ end }}`

// TestCPULimit: a template that spins is stopped by its CPU limit, well before its timeout.
func TestCPULimit(t *testing.T) {
	files := chart(map[string]string{"spin.yaml": spin}, "")
	res := sandboxed(t, files, render.Options{Path: "chart", Type: render.TypeHelm, DefaultNamespace: "shop", Timeout: 2 * time.Minute}, Limits{Memory: 512 << 20, CPU: time.Second})
	wantLimit(t, res, render.RuleLimit, "helm rendering used more than 1s of CPU time (render.max_cpu)")
}

// children lists the processes whose parent is this one and that run this executable.
func children(t *testing.T) []int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, pid := range testfs.Children(os.Getpid()) {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && target == exe {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestTimeoutKillsAndNeverBlocks is the attack of item 2: renders that spin past their
// timeout used to live on in the daemon, and after two of them every other render was
// refused until a restart. Now each is killed at its deadline: while three spin, and after
// they are refused, plain renders go through, and no render process is left but the one
// kept warm.
func TestTimeoutKillsAndNeverBlocks(t *testing.T) {
	files := chart(map[string]string{"spin.yaml": spin}, "")
	opts := render.Options{Path: "chart", Type: render.TypeHelm, DefaultNamespace: "shop", Timeout: 500 * time.Millisecond}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			res := sandboxed(t, files, opts, limits)
			if len(res.Problems) == 0 || res.Problems[0].Rule != render.RuleTimeout {
				t.Errorf("spinning render: %+v", res.Problems)
			}
		})
	}
	plain := map[string]string{"m/a.yaml": configMap("a")}
	for range 3 {
		res := sandboxed(t, plain, render.Options{Path: "m", DefaultNamespace: "x"}, limits)
		if !res.OK() || len(res.Objects) != 1 {
			t.Errorf("a plain render next to spinning ones: %+v", res.Problems)
		}
	}
	wg.Wait()
	res := sandboxed(t, plain, render.Options{Path: "m", DefaultNamespace: "x"}, limits)
	if !res.OK() || len(res.Objects) != 1 {
		t.Errorf("a plain render after the spinning ones: %+v", res.Problems)
	}
	// The warm child is started in the background: wait until at most it is left.
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := children(t)
		if len(pids) <= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("render processes still running: %v", pids)
		}
		time.Sleep(50 * time.Millisecond) // polling /proc; nothing to wait on
	}
}

// TestServeTreeBounds: the parent serves no file above max_bytes, and no more than its
// total, whatever the child asks for.
func TestServeTreeBounds(t *testing.T) {
	files := map[string]string{"m/big.yaml": strings.Repeat("#", 2000), "m/a.yaml": strings.Repeat("#", 600), "m/b.yaml": strings.Repeat("#", 600)}
	parent, childEnd, err := socketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	defer childEnd.Close()
	go (&treeServer{tree: mapFS(files), maxFile: 1000, maxTotal: 1000}).serve(parent)
	fsys := newRemoteFS(childEnd)
	if _, err := fsys.ReadFile("m/big.yaml"); err == nil || !strings.Contains(err.Error(), "larger than the render limit") {
		t.Errorf("big file: %v", err)
	}
	if b, err := fsys.ReadFile("m/a.yaml"); err != nil || len(b) != 600 {
		t.Errorf("a.yaml: %d bytes, %v", len(b), err)
	}
	if _, err := fsys.ReadFile("m/b.yaml"); err == nil || !strings.Contains(err.Error(), "more than 1000 bytes") {
		t.Errorf("over the total: %v", err)
	}
	var pe *fs.PathError
	if _, err := fsys.ReadFile("m/none.yaml"); !errors.As(err, &pe) || pe.Path != "m/none.yaml" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %#v, want the tree's *fs.PathError", err)
	}
	if _, err := fsys.Stat("m/../../etc/passwd"); err == nil {
		t.Error("a path outside the tree was served")
	}
	ents, err := fsys.ReadDir("m")
	if err != nil || len(ents) != 3 {
		t.Fatalf("readdir: %v %v", ents, err)
	}
	if fi, err := ents[0].Info(); err != nil || fi.Size() != 600 {
		t.Errorf("entry info: %v %v", fi, err)
	}
	got := map[string]bool{}
	for _, e := range ents {
		got[e.Name()] = true
	}
	if !reflect.DeepEqual(got, map[string]bool{"a.yaml": true, "b.yaml": true, "big.yaml": true}) {
		t.Errorf("entries: %v", got)
	}
}

// TestChildIsolated: a render process has no environment of the daemon's (HOME, PATH,
// credentials), reads from no directory but /, and has a network namespace of its own where
// the kernel gives one.
func TestChildIsolated(t *testing.T) {
	t.Setenv("HOME", "/root/secret-home")
	t.Setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
	ch, err := start()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.kill()
	pid := strconv.Itoa(ch.cmd.Process.Pid)
	env, err := os.ReadFile("/proc/" + pid + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimRight(string(env), "\x00"), "\x00"); !reflect.DeepEqual(got, []string{modeEnv + "=render"}) {
		t.Errorf("child environment: %q", got)
	}
	if cwd, err := os.Readlink("/proc/" + pid + "/cwd"); err != nil || cwd != "/" {
		t.Errorf("child cwd: %q %v", cwd, err)
	}
	ours, err1 := os.Readlink("/proc/self/ns/net")
	theirs, err2 := os.Readlink("/proc/" + pid + "/ns/net")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	isolate.Lock()
	off := isolate.off
	isolate.Unlock()
	switch {
	case off && os.Getuid() == 0:
		t.Errorf("running as root, yet render processes got no network namespace")
	case off:
		t.Logf("this kernel refuses user namespaces: render processes share the network namespace")
	case ours == theirs:
		t.Errorf("the child shares the network namespace %s", ours)
	}
}

// TestSymlinkLoopPrefetch: a pushed directory holding a link to itself. Renderers do not walk
// symlinked directories; the daemon's read-ahead of the render path must not either (it
// would read m/loop/loop/... until its budget ran out, outside the render's deadline), and
// its reading counts against the deadline anyway.
func TestSymlinkLoopPrefetch(t *testing.T) {
	files := map[string]string{"m/a.yaml": configMap("a"), "m/loop": "symlink:."}
	tree := testgit.GitTree(t, files)
	opts := render.Options{Path: "m", DefaultNamespace: "shop"}
	want, err := render.Render(context.Background(), tree, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := &treeServer{tree: tree, maxFile: render.DefaultMaxBytes, maxTotal: 2 * render.DefaultMaxBytes}
	var answers int
	if err := srv.prefetch("m", render.DefaultMaxBytes, func(p prefetched) error { answers += len(p.Answers); return nil }); err != nil {
		t.Fatal(err)
	}
	if answers > 10 {
		t.Errorf("the read-ahead followed the link: %d answers for a directory of two entries", answers)
	}
	got, err := Render(context.Background(), tree, opts, limits)
	if err != nil {
		t.Fatal(err)
	}
	if w, g := asJSON(t, want), asJSON(t, got); w != g {
		t.Errorf("sandbox result differs:\n--- in process\n%s\n--- sandbox\n%s", w, g)
	}
}
