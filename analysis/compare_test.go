package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestUTestKnownValue checks the p-value against one worked by hand: x = 4 5 6, y = 1 2 3
// (no ties), U = 9, mean 4.5, variance 5.25; z = (9-4.5-0.5)/sqrt(5.25) = 1.7457, and the
// upper tail of the normal distribution there is 0.04043.
func TestUTestKnownValue(t *testing.T) {
	p := uTestGreater([]float64{4, 5, 6}, []float64{1, 2, 3})
	if math.Abs(p-0.04043) > 0.0005 {
		t.Errorf("p = %.5f, want 0.04043", p)
	}
	if p := uTestGreater([]float64{1, 2, 3}, []float64{4, 5, 6}); p < 0.95 {
		t.Errorf("x below y: p = %.3f, want near 1", p)
	}
	if p := uTestGreater([]float64{2, 2, 2}, []float64{2, 2, 2}); p != 1 {
		t.Errorf("all equal: p = %v, want 1", p)
	}
}

// TestCompare: a clearly worse canary fails, one from the same distribution passes, a
// significant but tiny difference passes, and higher-is-better turns the test around.
func TestCompare(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	noisy := func(n int, mean, sd float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = mean + sd*r.NormFloat64()
		}
		return out
	}
	stable := noisy(12, 0.01, 0.002)
	if c := Compare(noisy(12, 0.05, 0.004), stable, false); !c.Worse {
		t.Errorf("an error rate five times the stable's must be worse: %s", c)
	}
	falseAlarms := 0
	for range 200 {
		if Compare(noisy(12, 0.01, 0.002), noisy(12, 0.01, 0.002), false).Worse {
			falseAlarms++
		}
	}
	if falseAlarms > 6 { // 1% expected: 2 of 200
		t.Errorf("%d of 200 comparisons of the same version called it worse", falseAlarms)
	}
	if c := Compare(noisy(12, 100.5, 0.1), noisy(12, 100, 0.1), false); c.Worse || c.P > Significance {
		t.Errorf("a significant difference of 0.5%% is too small to fail: %s", c)
	}
	if c := Compare(noisy(12, 50, 2), noisy(12, 100, 2), true); !c.Worse {
		t.Errorf("half the throughput, higher being better, must be worse: %s", c)
	}
	if c := Compare(noisy(12, 150, 2), noisy(12, 100, 2), true); c.Worse {
		t.Errorf("more throughput is not worse: %s", c)
	}
}

func TestVersion(t *testing.T) {
	for _, c := range []struct {
		labels map[string]string
		image  string
		want   string
	}{
		{map[string]string{"version": "v2", "app.kubernetes.io/version": "x"}, "a:b", "v2"},
		{map[string]string{"app.kubernetes.io/version": "1.2"}, "a:b", "1.2"},
		{nil, "registry:5000/shop:v3", "v3"},
		{nil, "registry:5000/shop", "latest"},
	} {
		if got := Version(c.labels, c.image); got != c.want {
			t.Errorf("Version(%v, %q) = %q, want %q", c.labels, c.image, got, c.want)
		}
	}
}
