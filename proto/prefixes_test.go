package proto

import (
	"slices"
	"testing"
)

func TestPrefixesMatchAsZeroMQ(t *testing.T) {
	p := NewPrefixes()
	for _, prefix := range []string{"ana", "ana", "geral"} {
		p.Add(prefix)
	}
	cases := []struct {
		topic string
		want  bool
	}{
		{"ana", true},
		{"anabela", true}, // prefix matching, as ZeroMQ does
		{"an", false},
		{"geral", true},
		{"bob", false},
		{"", false},
	}
	for _, c := range cases {
		if got := p.Match(c.topic); got != c.want {
			t.Errorf("Match(%q) = %t, want %t", c.topic, got, c.want)
		}
	}

	// ana was added twice, so it stays until removed twice.
	if p.Remove("ana") {
		t.Error("the first of two removals of ana reported it gone")
	}
	if !p.Match("ana") {
		t.Error("ana no longer matches after one of two removals")
	}
	if !p.Remove("ana") || p.Match("anabela") {
		t.Error("ana still matches after its last removal")
	}
	if p.Remove("never") {
		t.Error("removing a prefix never added reported it gone")
	}
	if got := p.Lengths(); !slices.Equal(got, []int{5}) {
		t.Errorf("Lengths() = %v, want [5]", got)
	}

	// The empty prefix matches everything.
	if !p.Add("") || !p.Match("") || !p.Match("bob") {
		t.Error("the empty prefix does not match every topic")
	}
	all := p.All()
	slices.Sort(all)
	if !slices.Equal(all, []string{"", "geral"}) {
		t.Errorf("All() = %q, want the empty prefix and geral", all)
	}
}
