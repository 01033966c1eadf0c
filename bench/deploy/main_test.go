package deploy

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/gitopsd/gitopsd/internal/gittest"
	"github.com/gitopsd/gitopsd/internal/kubetest"
)

// TestMain starts the API server and builds gitopsd only when benchmarks are asked for,
// so that `go test ./...` does not pay for them.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	os.Exit(func() int {
		cleanBin, err := gittest.Setup()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/deploy:", err)
			return 1
		}
		defer cleanBin()
		stop, err := kubetest.Setup()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/deploy:", err)
			return 1
		}
		defer stop()
		return m.Run()
	}())
}
