package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The parts of push output that differ from run to run: commits, durations, pod names and
// restart counts.
var (
	commitWords   = regexp.MustCompile(`\b[0-9a-f]{7,40}\b`)
	durationWords = regexp.MustCompile(`\b\d+(\.\d+)?m?s\b`)
	podWords      = regexp.MustCompile(`\b([a-z0-9-]+)-[0-9a-f]{6,10}-[a-z0-9]{5}\b`)
	restartWords  = regexp.MustCompile(`\b\d+ restarts?\b`)
)

// unvarying is out with what differs between runs masked.
func unvarying(out string) string {
	out = podWords.ReplaceAllString(out, "$1-POD")
	out = commitWords.ReplaceAllString(out, "COMMIT")
	out = durationWords.ReplaceAllString(out, "Ts")
	return restartWords.ReplaceAllString(out, "N restarts")
}

// readmeSays checks that the README's example of the command whose line starts with cmd
// shows what the push printed (out): its remote: lines, read as words with commits,
// durations and pod names masked, are in out, and each fits the screen as gitopsd's own
// lines do. The README is what a stranger follows; this keeps it true.
func readmeSays(t *testing.T, cmd, out string) {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "$ "+cmd):
			in, block = true, nil
		case in && (strings.HasPrefix(l, "$ ") || strings.HasPrefix(l, "```")):
			in = false
		case in && strings.HasPrefix(l, "remote: "):
			block = append(block, l)
		}
		if !in && block != nil {
			break
		}
	}
	if len(block) == 0 {
		t.Fatalf("README.md has no example of `%s` with remote: lines", cmd)
	}
	example := strings.Join(block, "\n")
	if !hasWords(unvarying(out), unvarying(example)) {
		t.Errorf("README.md's example of `%s` is not what the push says.\nREADME:\n%s\npush:\n%s", cmd, example, out)
	}
	if wide := tooWide(example, false); len(wide) > 0 {
		t.Errorf("README.md's example of `%s` has lines wider than %d columns, which gitopsd wraps:\n%s", cmd, screenWidth, strings.Join(wide, "\n"))
	}
}
