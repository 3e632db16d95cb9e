// Package stats holds the small amount of statistics the benchmark needs:
// nearest-rank percentiles over latency samples and medians over repeated
// runs. It is kept separate so that the math is unit-tested on its own.
package stats

import (
	"math"
	"slices"
)

// Percentile returns the p-th percentile (0 <= p <= 100) of sorted, using
// the nearest-rank definition: the smallest sample such that at least p% of
// all samples are less than or equal to it. p <= 0 gives the minimum,
// p >= 100 the maximum. It returns 0 for an empty slice. sorted must be in
// ascending order.
func Percentile(sorted []int64, p float64) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 || math.IsNaN(p) {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	// A tiny epsilon keeps exact products such as 0.9*10 from rounding up
	// to the next rank because of floating-point representation.
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// Summary describes a set of latency samples, all in nanoseconds.
type Summary struct {
	Count int   `json:"count"`
	Min   int64 `json:"min_ns"`
	Mean  int64 `json:"mean_ns"`
	P50   int64 `json:"p50_ns"`
	P90   int64 `json:"p90_ns"`
	P99   int64 `json:"p99_ns"`
	P999  int64 `json:"p999_ns"`
	Max   int64 `json:"max_ns"`
}

// Summarize sorts samples in place and returns their summary.
func Summarize(samples []int64) Summary {
	slices.Sort(samples)
	s := Summary{Count: len(samples)}
	if len(samples) == 0 {
		return s
	}
	var sum float64
	for _, v := range samples {
		sum += float64(v)
	}
	s.Min = samples[0]
	s.Max = samples[len(samples)-1]
	s.Mean = int64(sum / float64(len(samples)))
	s.P50 = Percentile(samples, 50)
	s.P90 = Percentile(samples, 90)
	s.P99 = Percentile(samples, 99)
	s.P999 = Percentile(samples, 99.9)
	return s
}

// Median returns the median of xs (the mean of the two middle values for an
// even count) without modifying xs. It returns NaN for an empty slice.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	c := slices.Clone(xs)
	slices.Sort(c)
	m := len(c) / 2
	if len(c)%2 == 1 {
		return c[m]
	}
	return (c[m-1] + c[m]) / 2
}
