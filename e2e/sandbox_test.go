package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/internal/testfs"
)

func helmChart(template string) map[string]string {
	return map[string]string{
		"chart/Chart.yaml":          "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"chart/values.yaml":         "t: '{{ tpl .Values.t . }}{{ tpl .Values.t . }}'\n",
		"chart/templates/main.yaml": template,
	}
}

// The attacks of the issue: a template that doubles a string 32 times, a value that
// renders itself through tpl, and one that spins.
const (
	memoryBomb = `{{- $s := "x" }}{{ range until 32 }}{{ $s = print $s $s }}{{ end }}
apiVersion: v1
kind: ConfigMap
metadata: {name: bomb}
data: {s: {{ $s | quote }}}
`
	tplRecursion = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r}\ndata: {s: {{ tpl .Values.t . | quote }}}\n"
	spinning     = `{{ range until 1000 }}{{ range until 1000 }}{{ range until 1000 }}{{ end }}{{ end }}{{ end }}` // minutes
)

// renderProcesses lists the daemon's render processes (children started in render mode).
func renderProcesses(t *testing.T, d *gittest.Daemon) []int {
	t.Helper()
	var pids []int
	for _, pid := range testfs.Children(d.Pid()) {
		if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); err == nil && strings.Contains(string(env), "GITOPSD_SANDBOX=render") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// peakRSS is the daemon's peak resident memory, in MiB.
func peakRSS(t *testing.T, d *gittest.Daemon) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return kb >> 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// TestRenderSandbox is items 1 and 2 of the safe-door issue, end to end: a Helm template
// that allocates without bound killed the daemon for memory in 4 s, one that recursed
// through tpl in 10 s; two renders that outlived their timeout paused every render of every
// environment until a restart. Now each is a refusal of its own push within its limits, the
// daemon's memory stays its own, and the other environment keeps deploying.
func TestRenderSandbox(t *testing.T) {
	cp := kubetest.ControlPlane(t)
	ns := kubetest.Namespace(t)
	cs := kubetest.Client(t, cp.Config)
	d, alice, work := oneRepo(t, cp, ns,
		fmt.Sprintf("chart: {branch: chart, cluster: local, path: chart, namespace: %s, render: {type: helm, max_memory: 268435456, max_cpu: 5s, timeout: 3s}}", ns),
		fmt.Sprintf("plain: {branch: main, cluster: local, path: deploy, namespace: %s}", ns))

	refused := func(what, template string, want ...string) {
		t.Helper()
		d.MustGit(t, alice, work, "checkout", "--quiet", "-B", "chart-"+strings.ReplaceAll(what, " ", "-"))
		d.Commit(t, alice, work, what, helmChart(template+"# "+what+"\n"))
		out, ok := push(t, d, alice, work, "chart")
		if ok {
			t.Fatalf("%s was accepted:\n%s", what, out)
		}
		for _, w := range want {
			if !hasWords(out, w) {
				t.Fatalf("%s: push output lacks %q:\n%s", what, w, out)
			}
		}
		t.Logf("%s refused:\n%s", what, out)
		if head := remoteHead(t, d, "chart", ns); head != "" {
			t.Fatalf("%s: branch chart created at %s", what, head)
		}
		select {
		case <-d.Exited():
			t.Fatalf("the daemon exited after %s:\n%s", what, d.Logs())
		default:
		}
	}
	refused("memory bomb", memoryBomb, "render-limit: helm rendering used more than 256 MiB of memory (render.max_memory)", "hint: look for a template that builds huge strings")
	refused("tpl recursion", tplRecursion, "render-limit: helm rendering used more than") // memory or CPU, whichever it reaches first
	refused("spin 1", spinning, "timeout: rendering took longer than 3s")
	refused("spin 2", spinning, "timeout: rendering took longer than 3s")

	// Other environments deploy at once: no render is paused by the abandoned ones.
	d.MustGit(t, alice, work, "checkout", "--quiet", "-B", "plain")
	d.Commit(t, alice, work, "plain", map[string]string{"deploy/a.yaml": cmYAML("a", "one")})
	if out, ok := push(t, d, alice, work, "main"); !ok {
		t.Fatalf("a plain push after the refused renders:\n%s", out)
	}
	waitFor(t, "the plain environment applied", func() bool { return configMapValue(cs, ns, "a", "value") == "one" })

	// Nothing of the refused renders runs on: at most the one render process kept warm.
	waitFor(t, "render processes ended", func() bool { return len(renderProcesses(t, d)) <= 1 })
	// In the daemon, the bomb alone would have taken gigabytes.
	if mib := peakRSS(t, d); mib > 400 {
		t.Errorf("the daemon's peak memory was %d MiB", mib)
	} else {
		t.Logf("daemon peak RSS %d MiB", mib)
	}
}
