package policy

import (
	"strings"
	"testing"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitopsd/gitopsd/config"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func deployment(t *testing.T, container string) *unstructured.Unstructured {
	return obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app.kubernetes.io/name: web}}
spec:
  template:
    spec:
      containers:
      - `+container)
}

func builtins(t *testing.T, names ...string) *Set {
	t.Helper()
	var ps []Policy
	for _, n := range names {
		ps = append(ps, Builtins[n])
	}
	s, err := Compile(ps)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBuiltins(t *testing.T) {
	good := `{name: web, image: "registry:5000/web:1.2.3", resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 64Mi}}}`
	cases := []struct {
		policy, container string
		fail              bool
	}{
		{"no-latest-tag", good, false},
		{"no-latest-tag", `{name: web, image: "nginx@sha256:0123"}`, false},
		{"no-latest-tag", `{name: web, image: "nginx:latest"}`, true},
		{"no-latest-tag", `{name: web, image: "nginx"}`, true},
		{"no-latest-tag", `{name: web, image: "registry:5000/nginx"}`, true},
		{"require-resources", good, false},
		{"require-resources", `{name: web, image: x:1, resources: {requests: {cpu: 1}}}`, true},
		{"require-resources", `{name: web, image: x:1}`, true},
		{"no-privileged", good, false},
		{"no-privileged", `{name: web, image: x:1, securityContext: {privileged: false}}`, false},
		{"no-privileged", `{name: web, image: x:1, securityContext: {privileged: true}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.policy+" "+tc.container, func(t *testing.T) {
			v := builtins(t, tc.policy).Evaluate(deployment(t, tc.container))
			if got := len(v) > 0; got != tc.fail {
				t.Fatalf("fail=%v, want %v: %+v", got, tc.fail, v)
			}
			if tc.fail && (v[0].Policy != tc.policy || v[0].Message == "" || v[0].Hint == "") {
				t.Errorf("violation lacks policy, message or hint: %+v", v[0])
			}
		})
	}
}

func TestRequireLabelsAndKinds(t *testing.T) {
	s := builtins(t, "require-labels")
	if v := s.Evaluate(obj(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}")); len(v) != 1 {
		t.Errorf("missing label must fail: %+v", v)
	}
	if v := s.Evaluate(obj(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: x, labels: {app.kubernetes.io/name: x}}}")); len(v) != 0 {
		t.Errorf("labelled object must pass: %+v", v)
	}
	only, err := Compile([]Policy{{Name: "deploy-only", Kinds: []string{"Deployment"}, Expression: "false", Message: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	if v := only.Evaluate(obj(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}")); len(v) != 0 {
		t.Errorf("kinds must limit the policy: %+v", v)
	}
}

func TestContainersOfEveryWorkload(t *testing.T) {
	cron := obj(t, `{apiVersion: batch/v1, kind: CronJob, metadata: {name: c}, spec: {jobTemplate: {spec: {template: {spec: {initContainers: [{name: i, image: a}], containers: [{name: c, image: b}]}}}}}}`)
	if n := len(Containers(cron)); n != 2 {
		t.Errorf("CronJob: %d containers, want 2", n)
	}
	pod := obj(t, `{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: c, image: "b:latest"}]}}`)
	if v := builtins(t, "no-latest-tag").Evaluate(pod); len(v) != 1 {
		t.Errorf("Pod with :latest must fail")
	}
}

func TestCompileErrorsNameThePolicy(t *testing.T) {
	_, err := Compile([]Policy{
		{Name: "broken", Expression: "object.metadata.name ==", Message: "m", Source: "repos.yaml"},
		{Name: "not-bool", Expression: "'a string'", Message: "m", Source: ".gitopsd/policies/x.yaml"},
	})
	if err == nil || !strings.Contains(err.Error(), "policy broken (repos.yaml)") || !strings.Contains(err.Error(), "policy not-bool (.gitopsd/policies/x.yaml)") {
		t.Fatalf("want both policies named, got %v", err)
	}
}

func TestEvaluationErrorFailsClosed(t *testing.T) {
	s, err := Compile([]Policy{{Name: "needs-spec", Expression: "object.spec.replicas > 1", Message: "at least two replicas"}})
	if err != nil {
		t.Fatal(err)
	}
	v := s.Evaluate(obj(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}"))
	if len(v) != 1 || !strings.Contains(v[0].Message, "could not be evaluated") {
		t.Fatalf("an expression that errors must fail the object: %+v", v)
	}
}

func TestCostLimit(t *testing.T) {
	s, err := Compile([]Policy{{Name: "expensive", Expression: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))", Message: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	v := s.Evaluate(obj(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}"))
	if len(v) != 1 || !strings.Contains(v[0].Message, "cost") {
		t.Fatalf("a runaway expression must be stopped by the cost limit: %+v", v)
	}
}

func TestLoadRepo(t *testing.T) {
	fsys := fstest.MapFS{
		".gitopsd/policies/team.yaml": {Data: []byte("kinds: [Deployment]\nexpression: \"has(object.metadata.labels) && 'team' in object.metadata.labels\"\nmessage: needs a team\nhint: add labels.team\n")},
		".gitopsd/policies/README.md": {Data: []byte("not a policy")},
	}
	ps, err := LoadRepo(fsys)
	if err != nil || len(ps) != 1 || ps[0].Name != "team" || ps[0].Source != ".gitopsd/policies/team.yaml" {
		t.Fatalf("got %+v %v", ps, err)
	}
	if _, err := Compile(ps); err != nil {
		t.Fatal(err)
	}

	bad := fstest.MapFS{".gitopsd/policies/x.yaml": {Data: []byte("expresion: true\nmessage: m\n")}}
	if _, err := LoadRepo(bad); err == nil || !strings.Contains(err.Error(), ".gitopsd/policies/x.yaml") {
		t.Fatalf("an unknown key must be an error naming the file, got %v", err)
	}
	if ps, err := LoadRepo(fstest.MapFS{}); err != nil || ps != nil {
		t.Fatalf("no policy dir: got %v %v", ps, err)
	}
}

// TestBuiltinsMatchConfig keeps the names repos.yaml accepts equal to the policies shipped.
func TestBuiltinsMatchConfig(t *testing.T) {
	if len(config.BuiltinPolicies) != len(Builtins) {
		t.Fatalf("config lists %v, policy ships %d", config.BuiltinPolicies, len(Builtins))
	}
	for _, n := range config.BuiltinPolicies {
		if _, ok := Builtins[n]; !ok {
			t.Errorf("config accepts %q but no such builtin exists", n)
		}
	}
	if _, err := Compile(func() (ps []Policy) {
		for _, p := range Builtins {
			ps = append(ps, p)
		}
		return
	}()); err != nil {
		t.Fatal(err)
	}
}

// An image policy names the container and its image, one violation per container.
func TestImagePolicyNamesTheImage(t *testing.T) {
	u := obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      initContainers: [{name: init, image: "busybox"}]
      containers: [{name: web, image: "nginx:latest"}, {name: ok, image: "nginx:1.27"}]
`)
	v := builtins(t, "no-latest-tag").Evaluate(u)
	var msgs []string
	for _, x := range v {
		msgs = append(msgs, x.Message)
	}
	want := []string{
		"container init uses image busybox, which has no fixed tag or digest",
		"container web uses image nginx:latest, which has no fixed tag or digest",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}
