package rollout

import (
	"testing"
	"time"

	"github.com/gitopsd/gitopsd/config"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		total          int64
		weight         int
		canary, stable int64
	}{
		{4, 25, 1, 3}, {4, 50, 2, 2}, {4, 10, 1, 3}, {3, 50, 2, 1}, {1, 10, 1, 0}, {10, 99, 10, 0}, {0, 50, 1, 0},
	} {
		if c1, s1 := split(c.total, c.weight); c1 != c.canary || s1 != c.stable {
			t.Errorf("split(%d, %d%%) = %d+%d, want %d+%d", c.total, c.weight, c1, s1, c.canary, c.stable)
		}
	}
}

func TestDescribe(t *testing.T) {
	steps := []config.Step{{Weight: 20, Pause: &config.Pause{Duration: time.Minute}}, {Weight: 50, Pause: &config.Pause{Gate: true}}, {Weight: 100}}
	if got, want := Describe(config.Rollout{Strategy: config.RolloutCanary, Steps: steps}), "canary 20% 1m0s, 50% {}, 100%"; got != want {
		t.Errorf("Describe: %q, want %q", got, want)
	}
	if CanaryName("web") != "web-canary" {
		t.Errorf("CanaryName")
	}
}
