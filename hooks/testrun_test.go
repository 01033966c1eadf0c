package hooks

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func cm(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetName(name)
	return u
}

func TestRunTestPassesAndSeesManifests(t *testing.T) {
	var out bytes.Buffer
	tc := TestCommand{Name: "grep", Command: []string{"sh", "-c", `grep -c "kind: ConfigMap" all.yaml; ls | wc -l; env | sort`}, Timeout: 10 * time.Second}
	if err := RunTest(context.Background(), tc, []*unstructured.Unstructured{cm("a"), cm("b")}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	if !strings.Contains(got, "[grep] 2\n") || !strings.Contains(got, "[grep] 3\n") {
		t.Errorf("test must see 2 objects in all.yaml and 3 files:\n%s", got)
	}
	if strings.Contains(got, "KUBECONFIG") || strings.Contains(got, "SSH_AUTH_SOCK") || strings.Contains(got, "HOME=/root") {
		t.Errorf("the test must run with an empty environment:\n%s", got)
	}
}

func TestRunTestFailureAndTimeout(t *testing.T) {
	var out bytes.Buffer
	err := RunTest(context.Background(), TestCommand{Name: "fail", Command: []string{"sh", "-c", "echo policy violated; exit 3"}, Timeout: 10 * time.Second}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "exited with status 3") || !strings.Contains(out.String(), "[fail] policy violated") {
		t.Errorf("got %v\n%s", err, out.String())
	}

	out.Reset()
	start := time.Now()
	err = RunTest(context.Background(), TestCommand{Name: "slow", Command: []string{"sh", "-c", "sleep 60 & wait"}, Timeout: 300 * time.Millisecond}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 300ms") {
		t.Errorf("got %v", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("the timeout must stop the test and its children")
	}

	err = RunTest(context.Background(), TestCommand{Name: "missing", Command: []string{"/nonexistent/tool"}, Timeout: time.Second}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "test missing") {
		t.Errorf("got %v", err)
	}
}

func TestRunTestOutputIsBounded(t *testing.T) {
	var out bytes.Buffer
	err := RunTest(context.Background(), TestCommand{Name: "chatty", Command: []string{"sh", "-c", "yes 0123456789012345678901234567890123456789 | head -n 100000"}, Timeout: 20 * time.Second}, nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() > 2*maxTestOutput || !strings.Contains(out.String(), "output cut") {
		t.Errorf("output must be cut: %d bytes", out.Len())
	}
}
