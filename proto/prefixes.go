package proto

import "slices"

// Prefixes is a set of subscription prefixes matched against topics as
// ZeroMQ matches them: a prefix matches every topic that begins with it,
// and the empty prefix matches every topic. Each prefix counts how often
// it was added. The prefixes are indexed by length, so a match costs one
// map lookup per distinct length up to the topic's, however many
// prefixes there are. A Prefixes is not safe for concurrent use.
type Prefixes struct {
	count    map[string]int
	byLength map[int]int // number of prefixes of each length
	lengths  []int       // keys of byLength, sorted
}

// NewPrefixes returns an empty set.
func NewPrefixes() *Prefixes {
	return &Prefixes{count: make(map[string]int), byLength: make(map[int]int)}
}

// Add counts prefix once more and reports whether it is new to the set.
func (p *Prefixes) Add(prefix string) bool {
	p.count[prefix]++
	if p.count[prefix] > 1 {
		return false
	}
	if p.byLength[len(prefix)]++; p.byLength[len(prefix)] == 1 {
		p.lengths = append(p.lengths, len(prefix))
		slices.Sort(p.lengths)
	}
	return true
}

// Remove counts prefix once less and reports whether it left the set. A
// prefix the set lacks changes nothing.
func (p *Prefixes) Remove(prefix string) bool {
	n, ok := p.count[prefix]
	if !ok {
		return false
	}
	if n > 1 {
		p.count[prefix] = n - 1
		return false
	}
	delete(p.count, prefix)
	if p.byLength[len(prefix)]--; p.byLength[len(prefix)] == 0 {
		delete(p.byLength, len(prefix))
		p.lengths = slices.DeleteFunc(p.lengths, func(m int) bool { return m == len(prefix) })
	}
	return true
}

// Lengths returns the distinct prefix lengths, shortest first. The slice
// belongs to the set and changes with it.
func (p *Prefixes) Lengths() []int { return p.lengths }

// Match reports whether some prefix in the set begins topic.
func (p *Prefixes) Match(topic string) bool {
	for _, n := range p.lengths {
		if n > len(topic) {
			return false
		}
		if _, ok := p.count[topic[:n]]; ok {
			return true
		}
	}
	return false
}

// All returns every prefix once, in no particular order.
func (p *Prefixes) All() []string {
	all := make([]string, 0, len(p.count))
	for prefix := range p.count {
		all = append(all, prefix)
	}
	return all
}
