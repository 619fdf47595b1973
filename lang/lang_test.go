package lang

import (
	"strings"
	"testing"
)

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
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	for _, c := range cases {
		t.Setenv("LANG", c.env)
		if got := Pick(c.flag); got != c.want {
			t.Errorf("Pick(%q) with LANG=%q = %q, want %q", c.flag, c.env, got, c.want)
		}
	}
}

func TestPickLocaleOrder(t *testing.T) {
	t.Setenv("LANG", "pt_BR.UTF-8")
	t.Setenv("LC_MESSAGES", "en_US.UTF-8")
	t.Setenv("LC_ALL", "")
	if got := Pick(""); got != EN {
		t.Errorf("LC_MESSAGES=en_US under LANG=pt_BR picked %q, want en", got)
	}
	t.Setenv("LC_ALL", "pt_BR.UTF-8")
	if got := Pick(""); got != PT {
		t.Errorf("LC_ALL=pt_BR over LC_MESSAGES=en_US picked %q, want pt", got)
	}
}

func TestParseRejectsOtherLanguages(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "en_US.UTF-8")
	for flag, want := range map[string]string{"": EN, "pt": PT, "pt_BR": PT, "EN-gb": EN} {
		if got, err := Parse(flag); err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", flag, got, err, want)
		}
	}
	for _, flag := range []string{"fr", "es_ES", "C", "português"} {
		if got, err := Parse(flag); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", flag, got)
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

func TestRequestedFallsBack(t *testing.T) {
	cases := []struct{ value, fallback, want string }{
		{"en", PT, EN},
		{"EN-us", PT, EN},
		{"pt-BR", EN, PT},
		{"", EN, EN},
		{"fr", PT, PT},
		{"fr", EN, EN},
	}
	for _, c := range cases {
		if got := Requested(c.value, c.fallback); got != c.want {
			t.Errorf("Requested(%q, %q) = %q, want %q", c.value, c.fallback, got, c.want)
		}
	}
}

func TestSizeUnits(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want string
	}{
		{64 << 10, "64 KiB"},
		{16 << 20, "16 MiB"},
		{1 << 20, "1 MiB"},
		{1536 << 10, "1536 KiB"},
		{1000, "1000 bytes"},
		{0, "0 bytes"},
	} {
		if got := Size(tt.n); got != tt.want {
			t.Errorf("Size(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestParseErrorInLocaleLanguage(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	for locale, want := range map[string]string{"pt_BR.UTF-8": `idioma "xx" não suportado`, "C.UTF-8": `idioma "xx" não suportado`, "en_US.UTF-8": `language "xx" is not supported`} {
		t.Setenv("LANG", locale)
		if _, err := Parse("xx"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LANG=%s: Parse(xx) error %v, want it to contain %q", locale, err, want)
		}
	}
}
