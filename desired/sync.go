package desired

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopsd/gitopsd/kube"
	"github.com/gitopsd/gitopsd/render"
)

// The annotations of Argo CD and Helm that order a sync, as Argo CD reads them.
const (
	WaveAnnotation       = "argocd.argoproj.io/sync-wave"
	HookAnnotation       = "argocd.argoproj.io/hook"
	HookDeleteAnnotation = "argocd.argoproj.io/hook-delete-policy"
	HelmHookAnnotation   = "helm.sh/hook"
	HelmWeightAnnotation = "helm.sh/hook-weight"
	HelmDeleteAnnotation = "helm.sh/hook-delete-policy"
	argoPrefix           = "argocd.argoproj.io/"
)

// The phases of a sync, in Argo CD's words.
const (
	PreSync  = "PreSync"
	Sync     = "Sync"
	PostSync = "PostSync"
	SyncFail = "SyncFail"
)

// Rules of the problems a sync's annotations can have.
const (
	RuleSyncWave = "sync-wave"
	RuleSyncHook = "sync-hook"
)

// syncRole is what one object's annotations say of its part in a sync.
type syncRole struct {
	wave int
	// phases are the hook phases it runs at; none: an ordinary object, applied in its wave.
	phases []string
	// notRun, if set, says why the object is neither applied nor run (Skip, a Helm test).
	notRun string
	// skip is Argo CD's Skip: left out on purpose, so nothing is said of it.
	skip                        bool
	delBefore, delOK, delFailed bool
}

func (r syncRole) hook() bool { return len(r.phases) > 0 }

// issue is a wrong sync annotation: a rule, the message and a hint.
type issue struct{ rule, msg, hint string }

// helmPhases maps Helm's hooks to Argo CD's phases, as Argo CD does; "" is a hook that
// gitopsd does not run (deletes and rollbacks are not syncs; tests are for `helm test`).
var helmPhases = map[string]string{
	"pre-install": PreSync, "pre-upgrade": PreSync, "post-install": PostSync, "post-upgrade": PostSync,
	"pre-delete": "", "post-delete": "", "pre-rollback": "", "post-rollback": "", "crd-install": "",
	"test": "", "test-success": "", "test-failure": "",
}

// roleOf reads u's sync annotations; what is wrong in them comes as issues, and the role
// then holds the defaults (wave 0, an ordinary object).
func roleOf(u *unstructured.Unstructured) (syncRole, []issue) {
	ann := u.GetAnnotations()
	role := syncRole{}
	var issues []issue
	waveKey, delKey := WaveAnnotation, HookDeleteAnnotation
	if v, ok := ann[HookAnnotation]; ok {
		for _, h := range splitList(v) {
			switch h {
			case PreSync, Sync, PostSync, SyncFail:
				role.phases = appendNew(role.phases, h)
			case "Skip":
				role.skip = true
			case "PostDelete":
				role.notRun = "Argo CD PostDelete hook"
			default:
				issues = append(issues, issue{RuleSyncHook, fmt.Sprintf("%s %q is not a hook phase", HookAnnotation, h),
					"write PreSync, Sync, PostSync, SyncFail or Skip (comma-separated for several)"})
			}
		}
	} else if v, ok := ann[HelmHookAnnotation]; ok {
		var unrun []string
		for _, h := range splitList(v) {
			phase, known := helmPhases[h]
			switch {
			case !known:
				issues = append(issues, issue{RuleSyncHook, fmt.Sprintf("%s %q is not a Helm hook", HelmHookAnnotation, h),
					"write pre-install, pre-upgrade, post-install, post-upgrade or test"})
			case phase == "":
				unrun = append(unrun, h)
			default:
				role.phases = appendNew(role.phases, phase)
			}
		}
		if len(role.phases) == 0 && len(unrun) > 0 {
			role.notRun = "Helm " + strings.Join(unrun, ",") + " hook"
		}
		if _, argoWave := ann[WaveAnnotation]; !argoWave {
			waveKey = HelmWeightAnnotation
		}
		if _, argoDel := ann[HookDeleteAnnotation]; !argoDel {
			delKey = HelmDeleteAnnotation
		}
	}
	if v, ok := ann[waveKey]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			issues = append(issues, issue{RuleSyncWave, fmt.Sprintf("%s %q is not a whole number", waveKey, v),
				`write an integer in quotes, such as "-1" or "5" (default "0")`})
		}
		role.wave = n
	}
	role.delBefore = true
	if v, ok := ann[delKey]; ok && role.hook() {
		role.delBefore = false
		for _, d := range splitList(v) {
			switch d {
			case "BeforeHookCreation", "before-hook-creation":
				role.delBefore = true
			case "HookSucceeded", "hook-succeeded":
				role.delOK = true
			case "HookFailed", "hook-failed":
				role.delFailed = true
			default:
				issues = append(issues, issue{RuleSyncHook, fmt.Sprintf("%s %q is not a delete policy", delKey, d),
					"write HookSucceeded, HookFailed or BeforeHookCreation (comma-separated)"})
			}
		}
	}
	return role, issues
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func appendNew(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// Wave is one sync wave: its objects, applied together, and its Sync hooks.
type Wave struct {
	N       int
	Objects []*unstructured.Unstructured
	Hooks   []kube.Hook
}

// SyncPlan is how an environment's objects are synced, as Argo CD would: the PreSync
// hooks, then wave after wave in ascending order (each healthy before the next), then the
// PostSync hooks once all is healthy; the SyncFail hooks if the sync fails.
type SyncPlan struct {
	Waves []Wave
	// Hooks are the PreSync, PostSync and SyncFail hooks by phase, in their order.
	Hooks map[string][]kube.Hook
	// Warnings name what gitopsd leaves out or does not honour (Helm tests, annotations of
	// Argo CD it does not read), for the door to say.
	Warnings []string
}

// PlanSync is the sync plan of objs. Annotations that are wrong were refused by Render
// (see syncProblems); here they take their defaults.
func PlanSync(objs []*unstructured.Unstructured) *SyncPlan {
	p := &SyncPlan{Hooks: map[string][]kube.Hook{}}
	waves := map[int]*Wave{}
	wave := func(n int) *Wave {
		if waves[n] == nil {
			waves[n] = &Wave{N: n}
		}
		return waves[n]
	}
	unhonoured := map[string][]string{}
	var first []*unstructured.Unstructured
	for _, u := range objs {
		role, _ := roleOf(u)
		name := kube.NameOf(u)
		for k := range u.GetAnnotations() {
			if strings.HasPrefix(k, argoPrefix) && k != WaveAnnotation && k != HookAnnotation && k != HookDeleteAnnotation {
				unhonoured[k] = append(unhonoured[k], name)
			}
		}
		switch {
		case role.skip:
		case role.notRun != "":
			p.Warnings = append(p.Warnings, fmt.Sprintf("warning: not run (%s): %s", role.notRun, name))
		case !role.hook() && early(u):
			first = append(first, u)
		case !role.hook():
			w := wave(role.wave)
			w.Objects = append(w.Objects, u)
		default:
			for _, ph := range role.phases {
				h := kube.Hook{Object: u, Phase: ph, Order: role.wave,
					DeleteBefore: role.delBefore, DeleteOnSuccess: role.delOK, DeleteOnFailure: role.delFailed}
				if ph == Sync {
					w := wave(role.wave)
					w.Hooks = append(w.Hooks, h)
					continue
				}
				p.Hooks[ph] = append(p.Hooks[ph], h)
			}
		}
	}
	for _, k := range sortedKeys(unhonoured) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("warning: %s not honoured: %s", k, joinFew(unhonoured[k], 2)))
	}
	if len(first) > 0 {
		// Namespaces and CRDs that name no wave go with the first: the objects of every
		// wave may live in them.
		low := 0
		for n := range waves {
			low = min(low, n)
		}
		w := wave(low)
		w.Objects = append(first, w.Objects...)
	}
	for _, w := range waves {
		p.Waves = append(p.Waves, *w)
	}
	sort.Slice(p.Waves, func(i, j int) bool { return p.Waves[i].N < p.Waves[j].N })
	for ph, hs := range p.Hooks {
		sort.SliceStable(hs, func(i, j int) bool { return hs[i].Order < hs[j].Order })
		p.Hooks[ph] = hs
	}
	return p
}

// Objects are the objects the sync applies, wave after wave: not its hooks, nor what it
// leaves out. They are the environment's inventory, pruned and drift-scanned.
func (p *SyncPlan) Objects() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, w := range p.Waves {
		out = append(out, w.Objects...)
	}
	return out
}

// Staged says whether the plan is more than one apply of every object: it has several
// waves or hooks.
func (p *SyncPlan) Staged() bool {
	if len(p.Waves) > 1 || len(p.Hooks) > 0 {
		return true
	}
	return len(p.Waves) == 1 && len(p.Waves[0].Hooks) > 0
}

// Notes say, for the door's preview, how the sync runs: its waves ("applied in 3 waves:
// -1 (1 object), 0 (3), 5 (1)") and its hooks, then the warnings.
func (p *SyncPlan) Notes() []string {
	var notes []string
	if len(p.Waves) > 1 {
		var parts []string
		for i, w := range p.Waves {
			n := len(w.Objects) + len(w.Hooks)
			unit := ""
			if i == 0 {
				unit = " object" + map[bool]string{true: "", false: "s"}[n == 1]
			}
			parts = append(parts, fmt.Sprintf("%d (%d%s)", w.N, n, unit))
		}
		notes = append(notes, fmt.Sprintf("applied in %d waves: %s", len(p.Waves), strings.Join(parts, ", ")))
	}
	say := func(h kube.Hook, when string) {
		notes = append(notes, fmt.Sprintf("hook %s %s: %s", h.Phase, kube.NameOf(h.Object), when))
	}
	for _, h := range p.Hooks[PreSync] {
		say(h, "runs before the apply")
	}
	for _, w := range p.Waves {
		for _, h := range w.Hooks {
			say(h, fmt.Sprintf("runs with wave %d", w.N))
		}
	}
	for _, h := range p.Hooks[PostSync] {
		say(h, "runs once healthy")
	}
	for _, h := range p.Hooks[SyncFail] {
		say(h, "runs if the sync fails")
	}
	return append(notes, p.Warnings...)
}

// AllHooks are every hook of the plan (PreSync, Sync, PostSync, SyncFail), for the door's
// dry run.
func (p *SyncPlan) AllHooks() []kube.Hook {
	out := append([]kube.Hook(nil), p.Hooks[PreSync]...)
	for _, w := range p.Waves {
		out = append(out, w.Hooks...)
	}
	return append(append(out, p.Hooks[PostSync]...), p.Hooks[SyncFail]...)
}

func joinFew(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(s[:n], ", "), len(s)-n)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// syncProblems are the wrong sync annotations of res's objects, at each object's file and
// line: a wave that is not a number would otherwise be applied at the wrong time.
func syncProblems(res *render.Result) {
	for _, o := range res.Objects {
		_, issues := roleOf(o.Unstructured)
		for _, is := range issues {
			res.Problems = append(res.Problems, render.Problem{File: o.Source.File, Line: o.Source.Line,
				Object: render.ObjectName(o.Unstructured), Rule: is.rule, Message: is.msg, Hint: is.hint})
		}
	}
}

// early says whether u is a Namespace or a CustomResourceDefinition with no wave of its own.
func early(u *unstructured.Unstructured) bool {
	if _, ok := u.GetAnnotations()[WaveAnnotation]; ok {
		return false
	}
	gvk := u.GroupVersionKind()
	return (gvk.Group == "" && gvk.Kind == "Namespace") || (gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition")
}
