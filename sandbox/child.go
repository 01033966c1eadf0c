package sandbox

import (
	"context"
	"encoding/gob"
	"fmt"
	"os"
	"runtime/debug"
	"testing/fstest"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gitopsd/gitopsd/render"
)

// modeEnv marks a process started by this package as a render child.
const modeEnv = "GITOPSD_SANDBOX"

// treeFD is the child's end of the socket the tree is read through (the first of
// exec.Cmd.ExtraFiles).
const treeFD = 3

// readyByte is what a child writes on its stdout once it is ready for its request.
const readyByte = 'R'

// request is what the parent writes on the child's stdin.
type request struct {
	Options  render.Options // Scope is a func: gob leaves it out, HasScope says if it was set
	HasScope bool
	// Ahead is the path whose calls are answered ahead, in batches after the request
	// (see treeServer.prefetch).
	Ahead  string
	Memory int64
	CPU    time.Duration
}

// response is what the child writes on its stdout. The objects travel in the codec of
// codec.go (gob cannot carry the interface values of unstructured content), their sources
// beside them.
type response struct {
	Type     string
	Objects  []byte
	Sources  []render.Source
	Problems []render.Problem
	Warnings []render.Problem
	// Sensitive are the values decrypted from SOPS files (render.Result.Sensitive).
	Sensitive []string
	// Err is an error of render.Render itself (bad options).
	Err string
}

// started is set by Main in a process that may start render children: its own executable
// runs Main first, so it can be re-executed as one.
var started bool

// Main must be called first thing in main (and in TestMain of a test binary that renders
// through this package). In a process started as a render child it renders one request
// and exits; otherwise it returns at once.
func Main() {
	if os.Getenv(modeEnv) != "render" {
		started = true
		return
	}
	os.Exit(serveOne())
}

// serveOne serves one render: read the request, set the limits, render from the parent's
// tree, write the result. Everything before the limits is the project's own code; the
// pushed content is read only after them.
func serveOne() int {
	warmUp()
	if _, err := os.Stdout.Write([]byte{readyByte}); err != nil {
		return 3
	}
	var req request
	in := gob.NewDecoder(os.Stdin)
	if err := in.Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox: reading the request:", err)
		return 3
	}
	if err := limit(req.Memory, req.CPU); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox: setting limits:", err)
		return 4
	}
	conn := os.NewFile(treeFD, "tree")
	tree := newRemoteFS(conn)
	if req.Ahead != "" {
		go tree.receive(req.Ahead, in)
	}
	opts := req.Options
	if req.HasScope {
		opts.Scope = tree.scope
	}
	var resp response
	res, err := render.Render(context.Background(), tree, opts)
	if err != nil {
		resp.Err = err.Error()
	} else {
		resp.Type, resp.Problems, resp.Sensitive = res.Type, res.Problems, res.Sensitive
		resp.Warnings = res.Warnings
		objs := make([]map[string]any, len(res.Objects))
		for i, o := range res.Objects {
			objs[i] = o.Object
			resp.Sources = append(resp.Sources, o.Source)
		}
		if resp.Objects, err = encodeObjects(objs); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox: encoding the objects:", err)
			return 5
		}
	}
	if err := gob.NewEncoder(os.Stdout).Encode(&resp); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox: writing the result:", err)
		return 5
	}
	return 0
}

// limit bounds this process: its data segment (where Go's heap and stacks live) to memory
// bytes, and its CPU time to cpu (SIGKILL when it is used: Go ignores SIGXCPU).
func limit(memory int64, cpu time.Duration) error {
	if memory > 0 {
		if err := unix.Setrlimit(unix.RLIMIT_DATA, &unix.Rlimit{Cur: uint64(memory), Max: uint64(memory)}); err != nil {
			return fmt.Errorf("RLIMIT_DATA: %w", err)
		}
		// A render process lives for one render: the collector runs only once the heap
		// reaches half the limit (in a fresh process, collecting as the heap grows cost 20%
		// of a 1,000-object render). Half: RLIMIT_DATA counts every mapping the heap ever
		// had, the runtime's and the binary's own data too (about 110 MiB at start).
		debug.SetMemoryLimit(memory / 2)
		debug.SetGCPercent(-1)
	}
	if cpu > 0 {
		secs := uint64((cpu + time.Second - 1) / time.Second)
		if err := unix.Setrlimit(unix.RLIMIT_CPU, &unix.Rlimit{Cur: secs, Max: secs}); err != nil {
			return fmt.Errorf("RLIMIT_CPU: %w", err)
		}
	}
	return nil
}

// warmUp renders a small chart, a kustomization and a plain file from memory before the
// child waits for its request: the first render of a process pays for Helm's, Kustomize's
// and the YAML decoder's one-time initialisation, and the warm child is started ahead of
// need, so it pays for it off the push's path.
func warmUp() {
	tree := fstest.MapFS{
		"c/Chart.yaml":         {Data: []byte("apiVersion: v2\nname: warm\nversion: 0.1.0\n")},
		"c/values.yaml":        {Data: []byte("n: 1\n")},
		"c/templates/cm.yaml":  {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name | trunc 20 }}}\ndata: {n: {{ .Values.n | quote }}}\n")},
		"k/kustomization.yaml": {Data: []byte("resources: [cm.yaml]\nnamePrefix: w-\n")},
		"k/cm.yaml":            {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k}\n")},
		"p/deploy.yaml":        {Data: []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: p}\nspec: {replicas: 1}\n")},
	}
	for _, dir := range []string{"c", "k", "p"} {
		_, _ = render.Render(context.Background(), tree, render.Options{Path: dir, DefaultNamespace: "warm"})
	}
	warmUpSecrets()
}
