package analysis

import (
	"fmt"
	"math"
	"sort"
)

// MinSamples is the fewest samples of each version a comparison judges.
const MinSamples = 5

// Significance and MinEffect decide Compare: the new version is worse when a one-sided
// Mann-Whitney U test says so at this level and its median is worse by at least this
// share of the stable's (so that a difference too small to matter is not a failure).
const (
	Significance = 0.01
	MinEffect    = 0.10
)

// Comparison is the outcome of comparing the new version's samples with the stable's.
type Comparison struct {
	// P is the one-sided p-value that the new version is not worse.
	P float64
	// Canary and Stable are the medians of the samples.
	Canary, Stable float64
	N              int
	Worse          bool
}

func (c Comparison) String() string {
	verdict := "not worse than the stable"
	if c.Worse {
		verdict = "worse than the stable"
	}
	return fmt.Sprintf("%s (medians %s vs %s, p=%.3g, %d samples each)", verdict, num(c.Canary), num(c.Stable), c.P, c.N)
}

// Compare tests whether canary's samples are worse than stable's: higher values are worse
// unless higherIsBetter. It is a Mann-Whitney U test (ranks, so no assumption on the
// shape of the samples, which latency and error rates do not follow), with the normal
// approximation and its tie correction; gonum and the other well-kept Go statistics
// libraries do not carry this test, hence the few lines here.
func Compare(canary, stable []float64, higherIsBetter bool) Comparison {
	x, y := canary, stable
	if higherIsBetter {
		x, y = negate(canary), negate(stable)
	}
	c := Comparison{Canary: median(canary), Stable: median(stable), N: min(len(canary), len(stable))}
	c.P = uTestGreater(x, y)
	worseBy := c.Canary - c.Stable
	if higherIsBetter {
		worseBy = -worseBy
	}
	c.Worse = c.P < Significance && worseBy > MinEffect*math.Abs(c.Stable) && worseBy > 1e-12
	return c
}

// uTestGreater is the one-sided p-value of the hypothesis that x's values are not
// stochastically greater than y's.
func uTestGreater(x, y []float64) float64 {
	n1, n2 := float64(len(x)), float64(len(y))
	if n1 == 0 || n2 == 0 {
		return 1
	}
	type obs struct {
		v float64
		x bool
	}
	all := make([]obs, 0, len(x)+len(y))
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	// Ranks, ties sharing their mean rank; the tie term corrects the variance.
	rankSumX, ties := 0.0, 0.0
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].x {
				rankSumX += rank
			}
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	u := rankSumX - n1*(n1+1)/2
	n := n1 + n2
	variance := n1 * n2 / 12 * ((n + 1) - ties/(n*(n-1)))
	if variance <= 0 {
		return 1 // every value equal: nothing to tell apart
	}
	z := (u - n1*n2/2 - 0.5) / math.Sqrt(variance)
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func negate(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = -x
	}
	return out
}
