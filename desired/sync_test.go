package desired

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/render"
)

func syncObj(kind, name string, ann map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind}}
	if strings.HasSuffix(name, "-") {
		u.SetGenerateName(name)
	} else {
		u.SetName(name)
	}
	u.SetNamespace("demo")
	u.SetAnnotations(ann)
	return u
}

func syncNames(objs []*unstructured.Unstructured) string {
	var s []string
	for _, o := range objs {
		s = append(s, o.GetName()+o.GetGenerateName())
	}
	return strings.Join(s, ",")
}

func TestPlanSyncOrdersWavesAndHooks(t *testing.T) {
	objs := []*unstructured.Unstructured{
		syncObj("ConfigMap", "late", map[string]string{WaveAnnotation: "5"}),
		syncObj("ConfigMap", "plain", nil),
		syncObj("ConfigMap", "early", map[string]string{WaveAnnotation: " -1 "}),
		syncObj("Job", "post-", map[string]string{HookAnnotation: "PostSync", HookDeleteAnnotation: "HookSucceeded"}),
		syncObj("Job", "page-up-", map[string]string{HookAnnotation: "Sync", WaveAnnotation: "5"}),
		syncObj("Job", "second", map[string]string{HelmHookAnnotation: "pre-install,pre-upgrade", HelmWeightAnnotation: "2"}),
		syncObj("Job", "first", map[string]string{HookAnnotation: "PreSync", WaveAnnotation: "-3"}),
		syncObj("Pod", "test-", map[string]string{HelmHookAnnotation: "test"}),
		syncObj("ConfigMap", "skipped", map[string]string{HookAnnotation: "Skip"}),
		syncObj("ConfigMap", "opts", map[string]string{"argocd.argoproj.io/sync-options": "Prune=false"}),
		syncObj("Namespace", "demo", nil),
	}
	p := PlanSync(objs)
	if got := syncNames(p.Objects()); got != "demo,early,plain,opts,late" {
		t.Errorf("applied objects in wave order: got %s", got)
	}
	var waves []int
	for _, w := range p.Waves {
		waves = append(waves, w.N)
	}
	if len(waves) != 3 || waves[0] != -1 || waves[1] != 0 || waves[2] != 5 || len(p.Waves[2].Hooks) != 1 {
		t.Errorf("waves: got %v (the Sync hook belongs to wave 5)", waves)
	}
	pre := p.Hooks[PreSync]
	if len(pre) != 2 || pre[0].Name() != "first" || pre[1].Name() != "second" {
		t.Errorf("PreSync hooks in order of wave/weight: got %+v", pre)
	}
	post := p.Hooks[PostSync]
	if len(post) != 1 || !post[0].DeleteOnSuccess || post[0].DeleteBefore {
		t.Errorf("PostSync hook with HookSucceeded only: got %+v", post)
	}
	if !pre[0].DeleteBefore || pre[0].DeleteOnSuccess {
		t.Errorf("the default delete policy is BeforeHookCreation: got %+v", pre[0])
	}
	notes := strings.Join(p.Notes(), "\n")
	for _, want := range []string{
		"applied in 3 waves: -1 (2 objects), 0 (2), 5 (2)",
		"hook PreSync Job/demo/first: runs before the apply",
		"hook Sync Job/demo/page-up-: runs with wave 5",
		"hook PostSync Job/demo/post-: runs once healthy",
		"warning: not run (Helm test hook): Pod/demo/test-",
		"warning: argocd.argoproj.io/sync-options not honoured: ConfigMap/demo/opts",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "skipped") {
		t.Errorf("a Skip object is left out on purpose, not named:\n%s", notes)
	}
	if !p.Staged() || PlanSync(objs[1:2]).Staged() {
		t.Errorf("Staged: a plan with waves and hooks is staged, one plain object is not")
	}
}

func TestSyncProblems(t *testing.T) {
	for _, tc := range []struct {
		ann  map[string]string
		rule string
	}{
		{map[string]string{WaveAnnotation: "first"}, RuleSyncWave},
		{map[string]string{WaveAnnotation: "1.5"}, RuleSyncWave},
		{map[string]string{HookAnnotation: "PreSink"}, RuleSyncHook},
		{map[string]string{HookAnnotation: "PreSync", HookDeleteAnnotation: "Never"}, RuleSyncHook},
		{map[string]string{HelmHookAnnotation: "pre-instal"}, RuleSyncHook},
		{map[string]string{HelmHookAnnotation: "post-install", HelmWeightAnnotation: "x"}, RuleSyncWave},
		{map[string]string{HelmHookAnnotation: "post-install", HelmDeleteAnnotation: "hook-succeeded,before-hook-creation"}, ""},
		{map[string]string{WaveAnnotation: "-20"}, ""},
	} {
		res := &render.Result{Objects: []render.Object{{Unstructured: syncObj("Job", "j", tc.ann), Source: render.Source{File: "deploy/j.yaml", Line: 3}}}}
		syncProblems(res)
		switch {
		case tc.rule == "" && len(res.Problems) > 0:
			t.Errorf("%v: no problem expected, got %v", tc.ann, res.Problems)
		case tc.rule != "" && (len(res.Problems) != 1 || res.Problems[0].Rule != tc.rule || res.Problems[0].Hint == "" || res.Problems[0].Line != 3):
			t.Errorf("%v: want one %s problem with a hint at line 3, got %+v", tc.ann, tc.rule, res.Problems)
		}
	}
}

func TestPlanSyncHelmDeletePolicies(t *testing.T) {
	p := PlanSync([]*unstructured.Unstructured{syncObj("Job", "h", map[string]string{
		HelmHookAnnotation: "post-upgrade", HelmDeleteAnnotation: "hook-succeeded,hook-failed"})})
	hs := p.Hooks[PostSync]
	if len(hs) != 1 || !hs[0].DeleteOnSuccess || !hs[0].DeleteOnFailure || hs[0].DeleteBefore {
		t.Fatalf("helm delete policies map to Argo CD's: got %+v", hs)
	}
	p = PlanSync([]*unstructured.Unstructured{syncObj("Job", "d", map[string]string{HelmHookAnnotation: "pre-delete"})})
	if len(p.Objects()) != 0 || len(p.AllHooks()) != 0 || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "Helm pre-delete hook") {
		t.Fatalf("a pre-delete hook is neither applied nor run, and named: %+v", p)
	}
}
