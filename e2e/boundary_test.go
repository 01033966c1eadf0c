package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
	"github.com/gitopsd/gitopsd/kube"
)

// Tests of "environments are boundaries": a writer of one environment cannot touch what
// another environment owns, neither through gitopsd's own checks nor, when the
// environment acts as a Kubernetes identity, through the cluster's RBAC.

// boundaryBed is one repo with a production environment that alice pushes and the
// environments of extra that bob pushes, all in one cluster.
type boundaryBed struct {
	d          *gittest.Daemon
	alice, bob *gittest.Key
	cs         kubernetes.Interface
	repo       string
	prodNS     string
	// prod and other are alice's and bob's clones.
	prod, other string
}

// startBoundary starts the daemon; each of extra is an environment as YAML whose %[1]s
// is replaced by production's namespace and %[2]s by a second namespace made for the test.
func startBoundary(t *testing.T, extra ...string) (*boundaryBed, string) {
	t.Helper()
	cp := kubetest.ControlPlane(t)
	prodNS, otherNS := kubetest.Namespace(t), kubetest.Namespace(t)
	b := &boundaryBed{alice: gittest.NewKey(t, "alice"), bob: gittest.NewKey(t, "bob"), cs: kubetest.Client(t, cp.Config), repo: prodNS, prodNS: prodNS}
	body := gittest.Users(b.alice, b.bob) + "clusters:\n" + cluster("local", cp) +
		fmt.Sprintf("repos:\n  %s:\n    write: [alice]\n    environments:\n", b.repo) +
		fmt.Sprintf("      production: {branch: main, cluster: local, path: deploy, namespace: %s, push: [alice], apply: {health_timeout: 20s}}\n", prodNS)
	for _, e := range extra {
		body += "      " + fmt.Sprintf(e, prodNS, otherNS) + "\n"
	}
	b.d = gittest.Start(t, body)
	b.prod = b.d.Clone(t, b.alice, b.repo)
	b.other = b.d.Clone(t, b.bob, b.repo)
	return b, otherNS
}

// pushProduction applies production's ConfigMap a (value "prod") and returns it as read
// back from the cluster.
func (b *boundaryBed) pushProduction(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	b.d.Commit(t, b.alice, b.prod, "production", map[string]string{"deploy/a.yaml": cmYAML("a", "prod")})
	if out, ok := push(t, b.d, b.alice, b.prod, "main"); !ok || !hasWords(out, ": ok: applied ") {
		t.Fatalf("production's push must be applied:\n%s", out)
	}
	return b.prodObject(t)
}

func (b *boundaryBed) prodObject(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	cm, err := b.cs.CoreV1().ConfigMaps(b.prodNS).Get(context.Background(), "a", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("production's ConfigMap: %v", err)
	}
	return cm
}

// unchanged fails unless production's ConfigMap is still the one applied, owned by
// production.
func (b *boundaryBed) unchanged(t *testing.T, before *corev1.ConfigMap, after string) {
	t.Helper()
	cm := b.prodObject(t)
	if cm.Data["value"] != "prod" || cm.Labels[kube.OwnerLabel] != before.Labels[kube.OwnerLabel] ||
		cm.Annotations[kube.EnvAnnotation] != "production" || cm.ResourceVersion != before.ResourceVersion {
		t.Fatalf("production's ConfigMap changed %s: value %q, owner %q (environment %q), resourceVersion %s -> %s",
			after, cm.Data["value"], cm.Labels[kube.OwnerLabel], cm.Annotations[kube.EnvAnnotation], before.ResourceVersion, cm.ResourceVersion)
	}
}

// otherNamespaceCM is ConfigMap a, as bob writes it, in namespace ns.
func otherNamespaceCM(ns, value string) string {
	return strings.Replace(cmYAML("a", value), "metadata:\n", "metadata:\n  namespace: "+ns+"\n", 1)
}

// TestBoundaryNamespaceOfAnotherEnvironment is the attack of the issue: bob may push only
// staging, and put metadata.namespace: prod on a ConfigMap. Production's object was
// overwritten, its owner label moved to staging. Now the push is refused at the door: the
// namespace is not staging's.
func TestBoundaryNamespaceOfAnotherEnvironment(t *testing.T) {
	b, _ := startBoundary(t, "staging: {branch: staging, cluster: local, path: deploy, namespace: %[2]s, push: [bob]}")
	before := b.pushProduction(t)

	b.d.Commit(t, b.bob, b.other, "into prod", map[string]string{"deploy/a.yaml": otherNamespaceCM(b.prodNS, "evil")})
	out, ok := push(t, b.d, b.bob, b.other, "staging")
	refusedBy(t, out, ok, "namespace-boundary")
	for _, want := range []string{
		"x deploy/a.yaml:1  ConfigMap/" + b.prodNS + "/a",
		"namespace-boundary: ConfigMap/" + b.prodNS + "/a is in namespace " + b.prodNS + ", which environment staging may not touch",
		"hint: add " + b.prodNS + " to namespaces: of environment staging in repos.yaml, or remove metadata.namespace",
		"pre-receive hook declined",
	} {
		if !hasWords(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	if head := remoteHead(t, b.d, "staging", b.repo); head != "" {
		t.Errorf("staging moved to %s", head)
	}
	b.unchanged(t, before, "by the refused push")
}

// TestBoundaryObjectOfAnotherEnvironment: even in a namespace staging may use, an object
// that production owns is neither overwritten nor pruned. The door refuses it naming its
// owner; an environment without the dry run (as a push accepted while the cluster was
// unreachable) gets it refused at the apply, and deleting the file prunes nothing of
// production's.
func TestBoundaryObjectOfAnotherEnvironment(t *testing.T) {
	b, _ := startBoundary(t,
		"staging: {branch: staging, cluster: local, path: deploy, namespace: %[2]s, namespaces: [%[1]s], push: [bob]}",
		"canary: {branch: canary, cluster: local, path: deploy, namespace: %[2]s, namespaces: [%[1]s], push: [bob], checks: {dry_run: false}, apply: {health_timeout: 20s}}")
	before := b.pushProduction(t)
	owned := fmt.Sprintf("ConfigMap/%s/a is owned by environment %s/production", b.prodNS, b.repo)

	b.d.Commit(t, b.bob, b.other, "take prod's", map[string]string{"deploy/a.yaml": otherNamespaceCM(b.prodNS, "evil")})
	out, ok := push(t, b.d, b.bob, b.other, "staging")
	refusedBy(t, out, ok, "dry-run")
	if !hasWords(out, "x deploy/a.yaml:1  ConfigMap/"+b.prodNS+"/a") || !hasWords(out, owned) {
		t.Errorf("the refusal must name the object and its owner (%q):\n%s", owned, out)
	}
	b.unchanged(t, before, "by the refused push")

	// Past the door, the apply refuses it too.
	out, ok = push(t, b.d, b.bob, b.other, "canary")
	if !ok {
		t.Fatalf("canary has no dry run, the push passes the door:\n%s", out)
	}
	if !hasWords(out, "FAILED: ") || !hasWords(out, owned) {
		t.Errorf("the apply must fail naming the owner (%q):\n%s", owned, out)
	}
	b.unchanged(t, before, "by canary's apply")

	// canary's inventory lists the object it failed to apply (an object in git stays owned
	// until it leaves git); leaving git must not prune it.
	inv := configMapValue(b.cs, kube.InventoryNamespace, kube.InventoryName(kube.Owner{Repo: b.repo, Env: "canary"}), "objects")
	if !strings.Contains(inv, "/ConfigMap/"+b.prodNS+"/a") {
		t.Fatalf("canary's inventory lacks production's object, so the prune below would not be tried:\n%s", inv)
	}
	b.d.MustGit(t, b.bob, b.other, "rm", "--quiet", "deploy/a.yaml")
	b.d.Commit(t, b.bob, b.other, "give it back", map[string]string{"deploy/b.yaml": cmYAML("b", "canary")})
	out, ok = push(t, b.d, b.bob, b.other, "canary")
	if !ok || !hasWords(out, ": ok: applied ") {
		t.Fatalf("canary's push without the object must be applied:\n%s", out)
	}
	b.unchanged(t, before, "after the file left canary's branch")
}

// TestBoundaryImpersonationRBAC: an environment that acts as a service account is bounded by
// that account's RBAC. The account may write ConfigMaps only in its own namespace: a push
// into a namespace repos.yaml allows, but the account was not granted, is refused by the
// API server, with its reason in the push output.
func TestBoundaryImpersonationRBAC(t *testing.T) {
	b, teamNS := startBoundary(t,
		"team: {branch: team, cluster: local, path: deploy, namespace: %[2]s, namespaces: [%[1]s], push: [bob], impersonate: {service_account: %[2]s/deployer}, apply: {health_timeout: 20s}}")
	grantNamespace(t, b.cs, teamNS, "deployer")

	b.d.Commit(t, b.bob, b.other, "own namespace", map[string]string{"deploy/a.yaml": cmYAML("a", "team")})
	out, ok := push(t, b.d, b.bob, b.other, "team")
	if !ok || !hasWords(out, ": ok: applied ") {
		t.Fatalf("a push within what the account was granted must be applied:\n%s", out)
	}
	if v := configMapValue(b.cs, teamNS, "a", "value"); v != "team" {
		t.Fatalf("ConfigMap %s/a holds %q, want team", teamNS, v)
	}

	b.d.Commit(t, b.bob, b.other, "other namespace", map[string]string{"deploy/b.yaml": otherNamespaceCM(b.prodNS, "team")})
	out, ok = push(t, b.d, b.bob, b.other, "team")
	refusedBy(t, out, ok, "dry-run")
	for _, want := range []string{
		"x deploy/b.yaml:1  ConfigMap/" + b.prodNS + "/a",
		`is forbidden: User "system:serviceaccount:` + teamNS + `:deployer" cannot`,
		`in the namespace "` + b.prodNS + `"`,
	} {
		if !hasWords(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	if _, err := b.cs.CoreV1().ConfigMaps(b.prodNS).Get(context.Background(), "a", metav1.GetOptions{}); err == nil {
		t.Errorf("ConfigMap %s/a exists", b.prodNS)
	}
}

// grantNamespace creates service account sa in ns and grants it what an environment of
// ConfigMaps needs, in ns only: ConfigMaps, and reading and applying its own Namespace.
func grantNamespace(t *testing.T, cs kubernetes.Interface, ns, sa string) {
	t.Helper()
	ctx := context.Background()
	subject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}))
	must(cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: sa},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "patch", "update", "delete"}}},
	}, metav1.CreateOptions{}))
	must(cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: sa},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: sa},
		Subjects:   subject,
	}, metav1.CreateOptions{}))
	name := ns + "-" + sa
	must(cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, ResourceNames: []string{ns}, Verbs: []string{"get", "patch"}}},
	}, metav1.CreateOptions{}))
	must(cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   subject,
	}, metav1.CreateOptions{}))
	t.Cleanup(func() {
		_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = cs.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// TestBoundaryStolenObjectNeverPruned: before boundaries, the attack moved production's
// object into staging's hands (its owner label, staging's inventory). After the upgrade,
// staging's next push must not finish the attack by pruning it: the object is outside
// staging's namespaces, so staging lets it go, says so, and deletes nothing of production.
func TestBoundaryStolenObjectNeverPruned(t *testing.T) {
	b, otherNS := startBoundary(t,
		"staging: {branch: staging, cluster: local, path: deploy, namespace: %[2]s, push: [bob], apply: {health_timeout: 20s}}")
	b.pushProduction(t)
	b.d.MustGit(t, b.bob, b.other, "checkout", "-q", "-b", "staging")
	b.d.Commit(t, b.bob, b.other, "staging", map[string]string{"deploy/a.yaml": cmYAML("s", "one")})
	if out, ok := push(t, b.d, b.bob, b.other, "staging"); !ok {
		t.Fatalf("staging's own push:\n%s", out)
	}

	// What the old attack left: production's object labelled staging's, and in staging's
	// inventory.
	ctx := context.Background()
	staging := kube.Owner{Repo: b.repo, Env: "staging"}
	cm := b.prodObject(t)
	cm.Labels[kube.OwnerLabel] = staging.LabelValue()
	cm.Annotations[kube.EnvAnnotation] = "staging"
	if _, err := b.cs.CoreV1().ConfigMaps(b.prodNS).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cl, err := kube.New(kubetest.ControlPlane(t).Config, kube.DefaultClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	inv, _, err := cl.ReadInventory(ctx, staging)
	if err != nil {
		t.Fatal(err)
	}
	stolen := kube.ObjectID{Kind: "ConfigMap", Namespace: b.prodNS, Name: "a"}
	if err := cl.WriteInventory(ctx, staging, inv.Union(kube.NewInventory(stolen))); err != nil {
		t.Fatal(err)
	}

	b.d.Commit(t, b.bob, b.other, "staging two", map[string]string{"deploy/a.yaml": cmYAML("s", "two")})
	out, ok := push(t, b.d, b.bob, b.other, "staging")
	if !ok {
		t.Fatalf("staging's next push:\n%s", out)
	}
	for _, want := range []string{
		"ConfigMap/" + b.prodNS + "/a is not pruned: outside the environment's namespaces",
		"pruned 0",
	} {
		if !hasWords(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	if hasWords(out, "- ConfigMap/"+b.prodNS+"/a") {
		t.Errorf("the preview shows production's object as pruned:\n%s", out)
	}
	if v := configMapValue(b.cs, b.prodNS, "a", "value"); v != "prod" {
		t.Fatalf("production's ConfigMap after staging's push: %q", v)
	}
	if v := configMapValue(b.cs, otherNS, "s", "value"); v != "two" {
		t.Errorf("staging's own ConfigMap: %q", v)
	}
	if inv, _, err := cl.ReadInventory(ctx, staging); err != nil || inv.Contains(stolen) {
		t.Errorf("staging's inventory still lists production's object (%v): %v", err, inv.IDs)
	}
}
