package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPercentileNearestRank(t *testing.T) {
	// 1..10: nearest rank of p is ceil(p/100*10).
	s := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	cases := []struct {
		p    float64
		want int64
	}{
		{0, 1}, {-5, 1}, {1, 1}, {10, 1}, {10.1, 2}, {50, 5}, {50.01, 6},
		{90, 9}, {91, 10}, {99, 10}, {99.9, 10}, {100, 10}, {150, 10},
	}
	for _, c := range cases {
		if got := Percentile(s, c.p); got != c.want {
			t.Errorf("Percentile(1..10, %v) = %d, want %d", c.p, got, c.want)
		}
	}
}

func TestPercentileEdges(t *testing.T) {
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty: got %d", got)
	}
	if got := Percentile([]int64{7}, 99); got != 7 {
		t.Errorf("single: got %d", got)
	}
	if got := Percentile([]int64{1, 2}, math.NaN()); got != 1 {
		t.Errorf("NaN: got %d", got)
	}
}

func TestPercentileLarge(t *testing.T) {
	// 1..1000 shuffled: p-th percentile is exactly p*10 for whole p.
	s := make([]int64, 1000)
	for i := range s {
		s[i] = int64(i + 1)
	}
	rand.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	sum := Summarize(s)
	if !slices.IsSorted(s) {
		t.Fatal("Summarize must sort in place")
	}
	want := Summary{Count: 1000, Min: 1, Mean: 500, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if sum != want {
		t.Errorf("Summarize = %+v, want %+v", sum, want)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	if got := Summarize(nil); got != (Summary{}) {
		t.Errorf("got %+v", got)
	}
}

func TestMedian(t *testing.T) {
	if !math.IsNaN(Median(nil)) {
		t.Error("empty median must be NaN")
	}
	in := []float64{5, 1, 3}
	if got := Median(in); got != 3 {
		t.Errorf("odd: got %v", got)
	}
	if !slices.Equal(in, []float64{5, 1, 3}) {
		t.Error("Median modified its input")
	}
	if got := Median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("even: got %v", got)
	}
}
