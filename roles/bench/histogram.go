package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout: values below histogramLinear nanoseconds get a bucket
// each. Above, every power of two is split into histogramSteps buckets, so
// a percentile is off by at most 1/histogramSteps (1.6 %) of its value.
const (
	histogramLinear = 128
	histogramSteps  = 64
	// histogramShifts covers values up to 2^(7+histogramShifts) ns, about
	// 18 minutes; larger values land in the last bucket.
	histogramShifts = 34
	histogramSize   = histogramLinear + histogramShifts*histogramSteps
)

// histogram records latencies in nanoseconds with a fixed memory cost, so
// a run of millions of deliveries needs no sample slice. It is not safe
// for concurrent use: each client or subscriber owns one, and the owners'
// histograms are merged at the end.
type histogram struct {
	counts [histogramSize]uint64
	count  uint64
	sum    float64
	min    int64
	max    int64
}

// record adds one latency; negative values count as zero.
func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(v)]++
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.count++
	h.sum += float64(v)
}

// merge adds every value recorded in other.
func (h *histogram) merge(other *histogram) {
	if other.count == 0 {
		return
	}
	for i, n := range other.counts {
		h.counts[i] += n
	}
	if h.count == 0 || other.min < h.min {
		h.min = other.min
	}
	h.max = max(h.max, other.max)
	h.count += other.count
	h.sum += other.sum
}

// quantile returns the value below which a fraction q of the recorded
// values lie, as the midpoint of its bucket and never above the maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.count)))
	rank = min(max(rank, 1), h.count)
	var seen uint64
	for i, n := range h.counts {
		seen += n
		if seen >= rank {
			return time.Duration(min(bucketMiddle(i), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.count))
}

// bucketOf returns the bucket index of v nanoseconds.
func bucketOf(v int64) int {
	if v < histogramLinear {
		return int(v)
	}
	// v has n significant bits; its top 7 bits, 64 to 127, pick the step
	// within the power of two.
	shift := bits.Len64(uint64(v)) - 7
	step := int(v>>shift) - histogramSteps
	return min(histogramLinear+(shift-1)*histogramSteps+step, histogramSize-1)
}

// bucketMiddle returns the value in the middle of bucket i.
func bucketMiddle(i int) int64 {
	if i < histogramLinear {
		return int64(i)
	}
	shift := (i-histogramLinear)/histogramSteps + 1
	step := int64((i-histogramLinear)%histogramSteps + histogramSteps)
	low := step << shift
	return low + (int64(1)<<shift)/2
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// latency summarises h.
func (h *histogram) latency() Latency {
	return Latency{
		P50:  millis(h.quantile(0.50)),
		P90:  millis(h.quantile(0.90)),
		P99:  millis(h.quantile(0.99)),
		Max:  millis(time.Duration(h.max)),
		Mean: millis(h.mean()),
	}
}

// millis converts d to fractional milliseconds, rounded to microseconds.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}
