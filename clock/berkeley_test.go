package clock

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// roundStart is the coordinator's clock when it sends its first request.
var roundStart = time.Date(2026, 12, 4, 19, 33, 44, 0, time.UTC)

// link describes one request and reply between the coordinator and a server.
type link struct {
	outbound   time.Duration // request travel time
	processing time.Duration // time the server holds the request, reading its clock halfway through
	inbound    time.Duration // reply travel time
}

// readServer returns the reading the coordinator gets at sent from a server
// whose clock is offset ahead of the coordinator's.
func readServer(name string, sent time.Time, offset time.Duration, l link) Reading {
	return Reading{
		Name:     name,
		Sent:     sent,
		Remote:   sent.Add(l.outbound + l.processing/2 + offset),
		Received: sent.Add(l.outbound + l.processing + l.inbound),
	}
}

// readCoordinator returns the coordinator's reading of its own clock.
func readCoordinator(name string, now time.Time) Reading {
	return Reading{Name: name, Remote: now, Sent: now, Received: now}
}

// spreadAfter returns max minus min of each true offset plus its correction.
func spreadAfter(t *testing.T, trueOffsets map[string]time.Duration, result RoundResult) time.Duration {
	t.Helper()
	var corrected []time.Duration
	for name, offset := range trueOffsets {
		correction, ok := result.Corrections[name]
		if !ok {
			t.Fatalf("no correction for %q", name)
		}
		corrected = append(corrected, offset+correction)
	}
	return slices.Max(corrected) - slices.Min(corrected)
}

func TestRoundConvergesWithinMillisecond(t *testing.T) {
	for _, bound := range []time.Duration{0, 500 * time.Millisecond, 5 * time.Second} {
		for seed := range uint64(20) {
			t.Run(bound.String()+"/seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				trueOffsets := map[string]time.Duration{"coordinator": 0}
				readings := []Reading{readCoordinator("coordinator", roundStart)}
				sent := roundStart
				for i := range 9 {
					name := "server-" + strconv.Itoa(i+1)
					offset := time.Duration(rng.Int64N(int64(2*time.Second)+1)) - time.Second
					outbound := time.Duration(rng.Int64N(int64(30 * time.Millisecond)))
					// The reply path differs from the request path by up to 400µs.
					inbound := max(outbound+time.Duration(rng.Int64N(int64(800*time.Microsecond)))-400*time.Microsecond, 0)
					l := link{outbound: outbound, processing: time.Duration(rng.Int64N(int64(2 * time.Millisecond))), inbound: inbound}

					trueOffsets[name] = offset
					r := readServer(name, sent, offset, l)
					readings = append(readings, r)
					sent = r.Received
				}

				result := Round(readings, bound)

				spread := spreadAfter(t, trueOffsets, result)
				if spread > time.Millisecond {
					t.Errorf("spread after corrections = %v, want at most 1ms", spread)
				}
				if residual := result.Residual(); spread > residual {
					t.Errorf("spread after corrections = %v, above Residual() = %v", spread, residual)
				}
			})
		}
	}
}

func TestRoundExcludesFarOutlier(t *testing.T) {
	const drift = 4 * time.Hour
	trueOffsets := map[string]time.Duration{
		"coordinator": 0,
		"server-1":    -120 * time.Millisecond,
		"server-2":    80 * time.Millisecond,
		"server-3":    200 * time.Millisecond,
		"server-4":    -40 * time.Millisecond,
		"drifter":     drift,
	}
	readings := []Reading{readCoordinator("coordinator", roundStart)}
	for _, name := range []string{"server-1", "server-2", "drifter", "server-3", "server-4"} {
		l := link{outbound: 5 * time.Millisecond, processing: time.Millisecond, inbound: 5 * time.Millisecond}
		readings = append(readings, readServer(name, roundStart, trueOffsets[name], l))
	}

	result := Round(readings, time.Second)

	if !slices.Equal(result.Excluded, []string{"drifter"}) {
		t.Fatalf("Excluded = %v, want [drifter]", result.Excluded)
	}
	// The mean of the five offsets other than the drifter's.
	if want := 24 * time.Millisecond; result.Target != want {
		t.Errorf("Target = %v, want %v", result.Target, want)
	}
	correction := result.Corrections["drifter"]
	if want := 24*time.Millisecond - drift; correction != want {
		t.Errorf("drifter's correction = %v, want %v", correction, want)
	}
	for name, offset := range trueOffsets {
		if got := result.Offsets[name]; got != offset {
			t.Errorf("Offsets[%q] = %v, want %v", name, got, offset)
		}
	}
	if spread := spreadAfter(t, trueOffsets, result); spread > time.Millisecond {
		t.Errorf("spread after corrections = %v, want at most 1ms", spread)
	}
}

func TestRoundSymmetricDelayUnbiased(t *testing.T) {
	const offset = 137 * time.Millisecond
	const added = 300 * time.Millisecond
	fast := link{outbound: time.Millisecond, processing: 2 * time.Millisecond, inbound: time.Millisecond}
	slow := link{outbound: fast.outbound + added, processing: fast.processing, inbound: fast.inbound + added}

	for name, l := range map[string]link{"fast": fast, "slow": slow} {
		readings := []Reading{
			readCoordinator("coordinator", roundStart),
			readServer("server", roundStart, offset, l),
		}
		result := Round(readings, time.Second)
		if got := result.Offsets["server"]; got != offset {
			t.Errorf("%s link: Offsets[server] = %v, want %v", name, got, offset)
		}
		if got, want := result.RTTs["server"], l.outbound+l.processing+l.inbound; got != want {
			t.Errorf("%s link: RTTs[server] = %v, want %v", name, got, want)
		}
	}
}

func TestRoundAsymmetricDelayWithinResidual(t *testing.T) {
	const offset = 50 * time.Millisecond
	l := link{outbound: 10 * time.Millisecond, inbound: 30 * time.Millisecond}
	readings := []Reading{
		readCoordinator("coordinator", roundStart),
		readServer("server", roundStart, offset, l),
	}

	result := Round(readings, time.Second)

	// Half the difference between the two paths, (10ms - 30ms) / 2.
	if got, want := result.Offsets["server"], offset-10*time.Millisecond; got != want {
		t.Errorf("Offsets[server] = %v, want %v", got, want)
	}
	spread := spreadAfter(t, map[string]time.Duration{"coordinator": 0, "server": offset}, result)
	if residual := result.Residual(); residual != 20*time.Millisecond || spread > residual {
		t.Errorf("Residual() = %v with spread %v, want 20ms and at least the spread", residual, spread)
	}
}

func TestRoundSingleReading(t *testing.T) {
	l := link{outbound: time.Millisecond, inbound: time.Millisecond}
	result := Round([]Reading{readServer("solo", roundStart, 300*time.Millisecond, l)}, time.Second)

	if result.Target != 300*time.Millisecond {
		t.Errorf("Target = %v, want 300ms", result.Target)
	}
	if got, ok := result.Corrections["solo"]; !ok || got != 0 {
		t.Errorf("Corrections[solo] = %v (present %v), want 0", got, ok)
	}
	if len(result.Excluded) != 0 {
		t.Errorf("Excluded = %v, want none", result.Excluded)
	}
	if got := result.Residual(); got != 0 {
		t.Errorf("Residual() = %v, want 0", got)
	}
}

func TestRoundEmpty(t *testing.T) {
	result := Round(nil, time.Second)

	if result.Offsets == nil || result.RTTs == nil || result.Corrections == nil {
		t.Errorf("nil maps in %+v, want empty ones", result)
	}
	if len(result.Offsets)+len(result.RTTs)+len(result.Corrections)+len(result.Excluded) != 0 {
		t.Errorf("non-empty result %+v", result)
	}
	if result.Target != 0 {
		t.Errorf("Target = %v, want 0", result.Target)
	}
	if got := result.Residual(); got != 0 {
		t.Errorf("Residual() = %v, want 0", got)
	}
}

func TestRoundAllExcludedUsesMedian(t *testing.T) {
	readings := []Reading{
		readCoordinator("coordinator", roundStart),
		readServer("server", roundStart, time.Hour, link{}),
	}

	result := Round(readings, time.Second)

	if !slices.Equal(result.Excluded, []string{"coordinator", "server"}) {
		t.Errorf("Excluded = %v, want both", result.Excluded)
	}
	if result.Target != 30*time.Minute {
		t.Errorf("Target = %v, want the median 30m", result.Target)
	}
	if got := result.Corrections["coordinator"]; got != 30*time.Minute {
		t.Errorf("Corrections[coordinator] = %v, want 30m", got)
	}
	if got := result.Corrections["server"]; got != -30*time.Minute {
		t.Errorf("Corrections[server] = %v, want -30m", got)
	}
}

func TestRoundRepeatedNameUsesLast(t *testing.T) {
	readings := []Reading{
		readCoordinator("coordinator", roundStart),
		readServer("server", roundStart, time.Hour, link{}),
		readServer("server", roundStart, 100*time.Millisecond, link{}),
	}

	result := Round(readings, time.Second)

	if len(result.Offsets) != 2 {
		t.Fatalf("Offsets = %v, want 2 entries", result.Offsets)
	}
	if got := result.Offsets["server"]; got != 100*time.Millisecond {
		t.Errorf("Offsets[server] = %v, want the last reading's 100ms", got)
	}
	if len(result.Excluded) != 0 {
		t.Errorf("Excluded = %v, want none", result.Excluded)
	}
	if result.Target != 50*time.Millisecond {
		t.Errorf("Target = %v, want 50ms", result.Target)
	}
}

func TestRoundNegativeRTTCountsAsZero(t *testing.T) {
	r := Reading{
		Name:     "server",
		Sent:     roundStart,
		Received: roundStart.Add(-10 * time.Millisecond),
		Remote:   roundStart.Add(40 * time.Millisecond),
	}

	result := Round([]Reading{r}, time.Second)

	if got := result.RTTs["server"]; got != 0 {
		t.Errorf("RTTs[server] = %v, want 0", got)
	}
	if got := result.Offsets["server"]; got != 50*time.Millisecond {
		t.Errorf("Offsets[server] = %v, want 50ms", got)
	}
}

func TestResidualAddsTwoLargestHalfRTTs(t *testing.T) {
	result := RoundResult{RTTs: map[string]time.Duration{
		"coordinator": 0,
		"a":           10 * time.Millisecond,
		"b":           40 * time.Millisecond,
		"c":           20 * time.Millisecond,
		"d":           20 * time.Millisecond,
	}}
	if got, want := result.Residual(), 30*time.Millisecond; got != want {
		t.Errorf("Residual() = %v, want %v", got, want)
	}
}
