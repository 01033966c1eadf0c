package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestConsoleLogsColourOnlyOnATerminal: --log-format console into a pipe or a file (a log
// collector, `| less`) must not carry colour escapes.
func TestConsoleLogsColourOnlyOnATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if colour(w) || colour(&bytes.Buffer{}) {
		t.Fatal("a pipe or a buffer counts as a terminal")
	}
	lf := logFlags{format: "console", level: "info"}
	log, err := lf.logger(w)
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Dur("duration_ms", 1500*time.Millisecond).Msg("hello")
	w.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "hello") || strings.Contains(string(out), "\x1b[") {
		t.Errorf("console log into a pipe: %q", out)
	}
	if !strings.Contains(string(out), "duration_ms=1500") {
		t.Errorf("a duration is logged in milliseconds: %q", out)
	}
}
