package clock

import (
	"slices"
	"time"
)

// Reading is one server's clock as the coordinator read it in a Berkeley
// round. The coordinator's own reading has Remote, Sent and Received all set
// to one value of its own Now, so its offset is 0 and its round-trip time 0.
type Reading struct {
	Name     string
	Remote   time.Time // the time the server replied with
	Sent     time.Time // coordinator's clock just before sending the request
	Received time.Time // coordinator's clock just after receiving the reply
}

// RoundResult is the outcome of one Berkeley round. Every map has one entry
// per server, outliers included.
type RoundResult struct {
	Offsets     map[string]time.Duration // estimated offset from the coordinator before correction
	RTTs        map[string]time.Duration // round-trip time of each reading
	Corrections map[string]time.Duration // amount to add to each server's clock
	Excluded    []string                 // servers left out of the average, in input order
	Target      time.Duration            // offset from the coordinator that every clock is moved to
}

// Round computes the corrections of one Berkeley round from the readings.
// It estimates each offset from the coordinator as Remote + RTT/2 - Received,
// takes the median, leaves out of the average the offsets more than bound
// away from it, and sets Target to the mean of the rest. Every server, an
// excluded one too, gets Target minus its offset as its correction.
//
// A bound of 0 or less excludes nothing. When every offset is more than bound
// from the median (two readings far apart), Target is the median itself. A
// negative round-trip time counts as 0. Names should be unique: for a
// repeated name only its last reading is used.
func Round(readings []Reading, bound time.Duration) RoundResult {
	readings = lastPerName(readings)
	result := RoundResult{
		Offsets:     make(map[string]time.Duration, len(readings)),
		RTTs:        make(map[string]time.Duration, len(readings)),
		Corrections: make(map[string]time.Duration, len(readings)),
	}
	if len(readings) == 0 {
		return result
	}

	offsets := make([]time.Duration, len(readings))
	for i, r := range readings {
		rtt := max(r.Received.Sub(r.Sent), 0)
		offsets[i] = r.Remote.Sub(r.Received) + rtt/2
		result.Offsets[r.Name] = offsets[i]
		result.RTTs[r.Name] = rtt
	}

	median := medianOf(offsets)
	// The mean is taken over deviations from the median, which are at most
	// bound each, so the sum cannot overflow even next to a far outlier.
	var deviationSum time.Duration
	kept := 0
	for i, r := range readings {
		deviation := offsets[i] - median
		if bound > 0 && (deviation > bound || deviation < -bound) {
			result.Excluded = append(result.Excluded, r.Name)
			continue
		}
		deviationSum += deviation
		kept++
	}
	result.Target = median
	if kept > 0 {
		result.Target += deviationSum / time.Duration(kept)
	}

	for i, r := range readings {
		result.Corrections[r.Name] = result.Target - offsets[i]
	}
	return result
}

// Residual returns the largest spread (max minus min) that the servers'
// clocks can still have once the corrections are applied. Every estimated
// offset plus its correction equals Target, so the spread left comes from
// estimation error alone. A server that reads its clock between receiving
// the request and sending the reply gives an estimate off by at most half the
// round-trip time, so Residual adds the two largest half round-trip times.
// It is 0 for fewer than two servers.
func (r RoundResult) Residual() time.Duration {
	var first, second time.Duration
	for _, rtt := range r.RTTs {
		half := rtt / 2
		switch {
		case half > first:
			first, second = half, first
		case half > second:
			second = half
		}
	}
	if len(r.RTTs) < 2 {
		return 0
	}
	return first + second
}

// lastPerName returns the readings in input order, keeping only the last
// reading of each name.
func lastPerName(readings []Reading) []Reading {
	last := make(map[string]int, len(readings))
	for i, r := range readings {
		last[r.Name] = i
	}
	if len(last) == len(readings) {
		return readings
	}
	unique := make([]Reading, 0, len(last))
	for i, r := range readings {
		if last[r.Name] == i {
			unique = append(unique, r)
		}
	}
	return unique
}

// medianOf returns the median of values, the mean of the two middle ones
// for an even count. values must not be empty, and it is left unchanged.
func medianOf(values []time.Duration) time.Duration {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	middle := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[middle]
	}
	low, high := sorted[middle-1], sorted[middle]
	return low + (high-low)/2
}
