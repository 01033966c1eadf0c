package hooks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestCommand is a command run on the rendered manifests (config tests: key).
type TestCommand struct {
	Name    string
	Command []string
	Timeout time.Duration
}

// maxTestOutput bounds what a test may print into the push output.
const maxTestOutput = 64 << 10

// testPath is the only environment a test gets: no HOME of the daemon, no credentials, no
// proxy settings, no KUBECONFIG.
const testPath = "PATH=/usr/local/bin:/usr/bin:/bin"

// RunTest writes objs into a fresh directory (one file per object, plus all.yaml with
// every document) and runs tc there with an empty environment and a timeout. Its output is
// relayed to out, line by line, prefixed with the test's name. A non-zero exit, a timeout or
// a command that cannot start is an error.
func RunTest(ctx context.Context, tc TestCommand, objs []*unstructured.Unstructured, out io.Writer) error {
	dir, err := os.MkdirTemp("", "gitopsd-test-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeManifests(dir, objs); err != nil {
		return fmt.Errorf("test %s: write manifests: %w", tc.Name, err)
	}
	if len(tc.Command) == 0 {
		return fmt.Errorf("test %s: no command", tc.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, tc.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tc.Command[0], tc.Command[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{testPath, "HOME=" + dir, "TMPDIR=" + dir, "GITOPSD_MANIFESTS=" + filepath.Join(dir, "all.yaml")}
	// Own process group, so a timeout kills what the test started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		relay(pr, out, tc.Name)
	}()
	err = cmd.Run()
	pw.Close()
	<-relayed
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("test %s: did not finish within %v and was stopped", tc.Name, tc.Timeout)
	default:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("test %s: exited with status %d", tc.Name, ee.ExitCode())
		}
		return fmt.Errorf("test %s: %v", tc.Name, err)
	}
}

// relay copies r to out prefixed line by line, up to maxTestOutput, then drains r.
func relay(r io.Reader, out io.Writer, name string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	written := 0
	for sc.Scan() {
		line := sc.Text()
		if written > maxTestOutput {
			continue
		}
		written += len(line)
		if written > maxTestOutput {
			fmt.Fprintf(out, "  [%s] ... (output cut at %d KiB)\n", name, maxTestOutput>>10)
			continue
		}
		fmt.Fprintf(out, "  [%s] %s\n", name, line)
	}
	io.Copy(io.Discard, r)
}

func writeManifests(dir string, objs []*unstructured.Unstructured) error {
	var all strings.Builder
	for i, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%04d-%s-%s.yaml", i, strings.ToLower(o.GetKind()), safeName(o.GetName()))
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
		all.WriteString("---\n")
		all.Write(data)
	}
	return os.WriteFile(filepath.Join(dir, "all.yaml"), []byte(all.String()), 0o600)
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}
