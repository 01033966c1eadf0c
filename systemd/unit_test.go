package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// unitWithBinary writes the unit into a temp dir with ExecStart pointing at a freshly built
// gitopsd: systemd-analyze verify checks that the command exists, and the test must not
// install anything into /usr/local/bin.
func unitWithBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "gitopsd")
	build := exec.Command("go", "build", "-o", bin, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	unit, err := os.ReadFile("gitopsd.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/gitopsd serve") {
		t.Fatal("the unit's ExecStart changed: update this test and the README")
	}
	path := filepath.Join(dir, "gitopsd.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/gitopsd", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is missing: `make test` installs Debian's systemd package (scripts/testdeps.sh)")
	}
	return p
}

func TestUnitVerifies(t *testing.T) {
	sa := systemdAnalyze(t)
	out, err := exec.Command(sa, "verify", unitWithBinary(t)).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

var exposureRe = regexp.MustCompile(`Overall exposure level for gitopsd.service: ([0-9.]+)`)

func TestUnitSecurityScore(t *testing.T) {
	sa := systemdAnalyze(t)
	out, _ := exec.Command(sa, "security", "--offline=true", "--no-pager", unitWithBinary(t)).CombinedOutput()
	m := exposureRe.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze security output:\n%s", out)
	}
	score, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("systemd-analyze security: exposure %.1f (a bare Type=notify unit scores 9.2)", score)
	if score >= 3 {
		t.Errorf("exposure %.1f, want under 3: the hardening in gitopsd.service weakened\n%s", score, out)
	}
}

func TestUnitSettings(t *testing.T) {
	unit, err := os.ReadFile("gitopsd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=gitopsd", "ProtectHome=yes",
		"PrivateTmp=yes", "PrivateDevices=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter=@system-service", "CapabilityBoundingSet=\n",
	} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("gitopsd.service lacks %q", strings.TrimSpace(want))
		}
	}
}
