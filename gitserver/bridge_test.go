package gitserver

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	w := &frameWriter{w: &buf}
	if n, err := w.Write([]byte("hello\n")); n != 6 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := w.verdict(3); err != nil {
		t.Fatal(err)
	}
	typ, p, err := readFrame(&buf)
	if err != nil || typ != frameOutput || string(p) != "hello\n" {
		t.Fatalf("frame 1 = %c %q %v", typ, p, err)
	}
	typ, p, err = readFrame(&buf)
	if err != nil || typ != frameVerdict || len(p) != 1 || p[0] != 3 {
		t.Fatalf("frame 2 = %c %q %v", typ, p, err)
	}
}

func TestRunHookFailsClosed(t *testing.T) {
	var out bytes.Buffer
	code := RunHook(context.Background(), HookClientOptions{
		Hook: "pre-receive", Socket: t.TempDir() + "/none.sock", Dir: t.TempDir(),
		Stdin:  strings.NewReader(ZeroID + " " + ZeroID + " refs/heads/main\n"),
		Output: &out, Getenv: func(string) string { return "" },
	})
	if code == 0 || !strings.Contains(out.String(), "the gitopsd daemon cannot be reached") || !strings.Contains(out.String(), "push refused") {
		t.Fatalf("code %d, output %q", code, out.String())
	}
}

func TestReadHookRequest(t *testing.T) {
	env := map[string]string{
		"GITOPSD_SESSION": "tok", "GIT_PUSH_OPTION_COUNT": "2", "GIT_PUSH_OPTION_0": "a", "GIT_PUSH_OPTION_1": "b=c",
		"GIT_QUARANTINE_PATH": "/r/objects/incoming-x", "GIT_OBJECT_DIRECTORY": "/r/objects/incoming-x",
		"GIT_ALTERNATE_OBJECT_DIRECTORIES": "/r/objects",
	}
	req, err := readHookRequest(HookClientOptions{
		Hook: "pre-receive", Dir: "/r", Getenv: func(k string) string { return env[k] },
		Stdin: strings.NewReader(ZeroID + " 1111111111111111111111111111111111111111 refs/heads/main\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if req.Session != "tok" || req.GitDir != "/r" || len(req.Options) != 2 || req.Options[1] != "b=c" ||
		len(req.Updates) != 1 || req.Updates[0].Name != "refs/heads/main" || req.AlternateObjectDirs[0] != "/r/objects" {
		t.Fatalf("request %+v", req)
	}
}
