package reconcile

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopsd/gitopsd/config"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

func TestDriftReportAndCorrect(t *testing.T) {
	b := newBed(t, kubetest.ControlPlane(t), func(e *config.Environment) {
		e.Drift = config.Drift{Schedule: "@every 1h", Mode: config.DriftCorrect}
	})
	ctx := context.Background()
	c1 := b.commit(map[string]string{"deploy/a.yaml": cmYAML("a", "git"), "deploy/b.yaml": cmYAML("b", "git")})
	if o := b.apply(c1); o.Err != nil {
		t.Fatal(o.Err)
	}
	res, err := b.rec.Scan(ctx, b.repo, "staging")
	if err != nil || len(res.Drifted) != 0 {
		t.Fatalf("freshly applied: no drift expected, got %+v %v", res, err)
	}

	// A kubectl-style edit (an Update by another manager) of a field gitopsd manages, a
	// label added by someone else (a field gitopsd does not manage), and a hand deletion.
	a, err := b.configMap("a")
	if err != nil {
		t.Fatal(err)
	}
	a.Data["value"] = "edited"
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	a.Labels["team"] = "ops"
	if _, err := b.cs.CoreV1().ConfigMaps(b.ns).Update(ctx, a, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	if err := b.cs.CoreV1().ConfigMaps(b.ns).Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	res, err = b.rec.Scan(ctx, b.repo, "staging")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(res.Drifted, "\n")
	if len(res.Drifted) != 2 || !strings.Contains(joined, "ConfigMap/"+b.ns+`/a: .data.value: "edited" -> "git" (owned by kubectl-edit)`) || !strings.Contains(joined, "ConfigMap/"+b.ns+"/b: missing") {
		t.Fatalf("drift: want a's data.value and b missing, got %q", res.Drifted)
	}
	if strings.Contains(joined, "team") {
		t.Errorf("a label another manager added is not drift: %q", res.Drifted)
	}
	if !res.Corrected {
		t.Fatal("mode correct must queue a re-apply")
	}
	waitFor(t, func() bool {
		a, errA := b.configMap("a")
		_, errB := b.configMap("b")
		return errA == nil && a.Data["value"] == "git" && errB == nil
	})
	a, _ = b.configMap("a")
	if a.Labels["team"] != "ops" {
		t.Errorf("a field owned by another manager must be left alone: labels %v", a.Labels)
	}
	// The correction clears the drift shown at once, naming the commit that corrected it.
	waitFor(t, func() bool {
		st := b.store.Get(b.repo, "staging")
		return !st.DriftScanAt.IsZero() && len(st.Drifted) == 0 && st.DriftCorrectedBy == res.Commit
	})
	if res, err := b.rec.Scan(ctx, b.repo, "staging"); err != nil || len(res.Drifted) != 0 {
		t.Errorf("after the correction the cluster is in sync: %+v %v", res, err)
	}
}

func TestDriftReportOnly(t *testing.T) {
	b := newBed(t, kubetest.ControlPlane(t), func(e *config.Environment) {
		e.Drift = config.Drift{Schedule: "@every 1h", Mode: config.DriftReport, Ignore: []string{"data.ignored"}}
	})
	ctx := context.Background()
	c1 := b.commit(map[string]string{
		"deploy/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {value: git, ignored: git}\n",
		"deploy/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: git-secret-value}\n",
	})
	if o := b.apply(c1); o.Err != nil {
		t.Fatal(o.Err)
	}
	a, _ := b.configMap("a")
	a.Data["ignored"] = "edited"
	if _, err := b.cs.CoreV1().ConfigMaps(b.ns).Update(ctx, a, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	res, err := b.rec.Scan(ctx, b.repo, "staging")
	if err != nil || len(res.Drifted) != 0 {
		t.Fatalf("an ignored field is not drift: %+v %v", res, err)
	}
	a, _ = b.configMap("a")
	a.Data["value"] = "edited"
	if _, err := b.cs.CoreV1().ConfigMaps(b.ns).Update(ctx, a, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	sec, err := b.cs.CoreV1().Secrets(b.ns).Get(ctx, "s", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data["password"] = []byte("hand-secret-value")
	if _, err := b.cs.CoreV1().Secrets(b.ns).Update(ctx, sec, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	res, err = b.rec.Scan(ctx, b.repo, "staging")
	if err != nil || len(res.Drifted) != 2 || res.Corrected {
		t.Fatalf("report mode finds drift and leaves it: %+v %v", res, err)
	}
	// The drift names the Secret's field, never its values (the live one or git's).
	joined := strings.Join(res.Drifted, "\n")
	if !strings.Contains(joined, "Secret/"+b.ns+"/s: .data.password") {
		t.Errorf("the Secret's drifted field is not named: %q", res.Drifted)
	}
	for _, v := range []string{"hand-secret-value", "git-secret-value", "aGFuZC1zZWNyZXQtdmFsdWU", "Z2l0LXNlY3JldC12YWx1ZQ"} {
		if strings.Contains(joined, v) {
			t.Errorf("a Secret value reached the drift list: %q", res.Drifted)
		}
	}
	if a, _ := b.configMap("a"); a.Data["value"] != "edited" {
		t.Errorf("report mode must not change the cluster")
	}
}
