package validate

import (
	"testing"

	"github.com/gitopsd/gitopsd/internal/gittest"
)

// TestMain starts the API server and builds gitopsd only when benchmarks are asked for.
func TestMain(m *testing.M) { gittest.MainWithCluster(m, true) }
