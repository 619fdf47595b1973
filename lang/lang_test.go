package lang

import "testing"

func TestPickFlagThenLANG(t *testing.T) {
	cases := []struct {
		flag, env, want string
	}{
		{"", "", PT},
		{"", "pt_BR.UTF-8", PT},
		{"", "en_US.UTF-8", EN},
		{"", "C.UTF-8", PT},
		{"en", "pt_BR.UTF-8", EN},
		{"EN-us", "", EN},
		{"pt", "en_US.UTF-8", PT},
		{"pt-BR", "en_GB", PT},
	}
	for _, c := range cases {
		t.Setenv("LANG", c.env)
		if got := Pick(c.flag); got != c.want {
			t.Errorf("Pick(%q) with LANG=%q = %q, want %q", c.flag, c.env, got, c.want)
		}
	}
}

func TestTextIn(t *testing.T) {
	text := Text{PT: "servidor", EN: "server"}
	for l, want := range map[string]string{PT: "servidor", EN: "server", "": "servidor"} {
		if got := text.In(l); got != want {
			t.Errorf("In(%q) = %q, want %q", l, got, want)
		}
	}
}
