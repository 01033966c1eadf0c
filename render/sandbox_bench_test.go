package render_test

import (
	"context"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/gitopsd/gitopsd/internal/testfs"
	"github.com/gitopsd/gitopsd/internal/testgit"
	"github.com/gitopsd/gitopsd/render"
	"github.com/gitopsd/gitopsd/sandbox"
)

// TestMain lets the test binary serve as a render process for the sandbox benchmarks.
func TestMain(m *testing.M) {
	sandbox.Main()
	os.Exit(m.Run())
}

// The daemon's limits by default (config.DefaultRenderMemory, DefaultRenderCPU).
var benchLimits = sandbox.Limits{Memory: 512 << 20, CPU: 20 * time.Second}

func benchSandbox(b *testing.B, fsys fs.FS, opts render.Options, want int) {
	b.ReportAllocs()
	for b.Loop() {
		// As for a push: the render process of the next render has started meanwhile.
		b.StopTimer()
		if err := sandbox.Warm(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := sandbox.Render(context.Background(), fsys, opts, benchLimits)
		if err != nil {
			b.Fatal(err)
		}
		if !res.OK() || len(res.Objects) != want {
			b.Fatalf("%d objects: %v", len(res.Objects), res.Problems)
		}
	}
}

// BenchmarkSandboxPlain1000Git is BenchmarkPlain1000Git through the render sandbox: the
// same 1,000 Deployments from a real git commit, rendered in a child process.
func BenchmarkSandboxPlain1000Git(b *testing.B) {
	benchSandbox(b, testgit.GitTree(b, testfs.Deployments1000()), render.Options{Path: "deploy", DefaultNamespace: "shop"}, 1000)
}

// BenchmarkSandboxHelm200Git is BenchmarkHelm200Git through the render sandbox.
func BenchmarkSandboxHelm200Git(b *testing.B) {
	benchSandbox(b, testgit.GitTree(b, render.HelmMany(200)), render.Options{Path: "chart", DefaultNamespace: "shop"}, 200)
}
