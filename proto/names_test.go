package proto

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestNormalizeNameValid(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ana", "ana"},
		{"Ana", "Ana"},
		{"ana_b-2.x", "ana_b-2.x"},
		{"José", "José"},
		{"Jose\u0301", "José"}, // e + combining acute becomes é
		{"Ñandú", "Ñandú"},
		{"Ελένη", "Ελένη"},
		{"名前", "名前"},
		{"١٢٣", "١٢٣"}, // Arabic-Indic digits
		{"a", "a"},
		{strings.Repeat("a", 32), strings.Repeat("a", 32)},
		{strings.Repeat("é", 32), strings.Repeat("é", 32)},
		{strings.Repeat("e\u0301", 32), strings.Repeat("é", 32)}, // 64 code points, 32 after NFC
	}
	for _, tt := range tests {
		got, err := NormalizeName(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeNameInvalid(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrNameEmpty},
		{strings.Repeat("a", 33), ErrNameTooLong},
		{strings.Repeat("é", 33), ErrNameTooLong},
		{"ana bela", ErrNameChars},
		{"ana,bob", ErrNameChars},
		{"ana\tbob", ErrNameChars},
		{"ana\n", ErrNameChars},
		{"ana\x00", ErrNameChars},
		{"ana\x7f", ErrNameChars},
		{"ana\u0085", ErrNameChars},     // C1 control
		{"ana\u200bbela", ErrNameChars}, // zero-width space
		{"ana\u00adbela", ErrNameChars}, // soft hyphen
		{"ana\u200d", ErrNameChars},     // zero-width joiner
		{"ana\ufeff", ErrNameChars},     // byte order mark
		{"ana\u202e", ErrNameChars},     // right-to-left override
		{"\u00a0ana", ErrNameChars},     // no-break space
		{"#geral", ErrNameChars},
		{"ana@x", ErrNameChars},
		{"ana/bob", ErrNameChars},
		{"😀", ErrNameChars},
		{"servers", ErrNameReserved},
		{"SERVERS", ErrNameReserved},
		{"Servers", ErrNameReserved},
		{"\u017fervers", ErrNameReserved}, // long s folds to s
		{"ana\xff", ErrNameNotUTF8},
	}
	for _, tt := range tests {
		got, err := NormalizeName(tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("NormalizeName(%q) = %q, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeChannel(t *testing.T) {
	if got, err := NormalizeChannel("#geral"); err != nil || got != "geral" {
		t.Errorf("NormalizeChannel(#geral) = %q, %v", got, err)
	}
	if got, err := NormalizeChannel("geral"); err != nil || got != "geral" {
		t.Errorf("NormalizeChannel(geral) = %q, %v", got, err)
	}
	// Only one '#' is dropped, and '#' alone leaves nothing.
	if _, err := NormalizeChannel("##geral"); !errors.Is(err, ErrNameChars) {
		t.Errorf("NormalizeChannel(##geral) err = %v, want ErrNameChars", err)
	}
	if _, err := NormalizeChannel("#"); !errors.Is(err, ErrNameEmpty) {
		t.Errorf("NormalizeChannel(#) err = %v, want ErrNameEmpty", err)
	}
	if _, err := NormalizeChannel("#servers"); !errors.Is(err, ErrNameReserved) {
		t.Errorf("NormalizeChannel(#servers) err = %v, want ErrNameReserved", err)
	}
}

func TestFoldNameUnique(t *testing.T) {
	groups := [][]string{
		{"Ana", "ANA", "ana", "aNa"},
		{"José", "Jose\u0301", "JOSÉ", "JOSE\u0301", "josé"},
		{"Straße", "STRASSE", "strasse"},
		{"ΣΊΣΥΦΟΣ", "σίσυφος", "σίσυφοσ"},
		{"Ꮌ", "ꮌ"}, // Cherokee capital and small letter
		{"ᏣᎳᎩ", "ꮳꮃꭹ", "Ꮳꮃꭹ"},
	}
	for _, group := range groups {
		key := FoldName(group[0])
		for _, name := range group[1:] {
			if got := FoldName(name); got != key {
				t.Errorf("FoldName(%q) = %q, FoldName(%q) = %q; want equal", name, got, group[0], key)
			}
		}
	}
	if FoldName("ana") == FoldName("anabela") {
		t.Error("ana and anabela fold to the same key")
	}
	if FoldName("ana") == FoldName("aná") {
		t.Error("ana and aná fold to the same key")
	}
}

func TestFoldASCIIMatchesUnicode(t *testing.T) {
	// The ASCII shortcut must give the key the Unicode path gives: every
	// ASCII character alone, between others, and at either end.
	for c := 0; c < utf8.RuneSelf; c++ {
		for _, name := range []string{string(rune(c)), "Ab" + string(rune(c)) + "Z", string(rune(c)) + "xY"} {
			if got, want := FoldName(name), foldUnicode(name); got != want {
				t.Errorf("FoldName(%q) = %q, Unicode folding gives %q", name, got, want)
			}
		}
	}
	if got := FoldName("ana.Silva_2"); got != "ana.silva_2" {
		t.Errorf("FoldName(ana.Silva_2) = %q", got)
	}
}

func TestFoldNameSimpleFoldOrbits(t *testing.T) {
	// Every character shares its key with the characters that
	// unicode.SimpleFold links it to, such as K, k and the Kelvin sign.
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) || unicode.SimpleFold(r) == r {
			continue
		}
		key := FoldName(string(r))
		for other := unicode.SimpleFold(r); other != r; other = unicode.SimpleFold(other) {
			if got := FoldName(string(other)); got != key {
				t.Errorf("FoldName(%q %U) = %q, FoldName(%q %U) = %q", r, r, key, other, other, got)
			}
		}
		if again := FoldName(key); again != key {
			t.Errorf("FoldName(%q) = %q, not stable", key, again)
		}
	}
}

func TestFoldNameConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if got := FoldName("JOSÉ"); got != "josé" {
					t.Errorf("FoldName = %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestValidateText(t *testing.T) {
	valid := []string{
		"oi",
		"linha 1\nlinha 2",
		"col\tcol",
		"emoji 😀 e acentuação",
		strings.Repeat("a", MaxTextBytes),
		strings.Repeat("é", MaxTextBytes/2),
		"\u200b", // format characters are not control characters
	}
	for _, text := range valid {
		if err := ValidateText(text); err != nil {
			t.Errorf("ValidateText(%.20q, %d bytes) = %v", text, len(text), err)
		}
	}

	invalid := []struct {
		text string
		want error
	}{
		{"", ErrTextEmpty},
		{strings.Repeat("a", MaxTextBytes+1), ErrTextTooLong},
		{strings.Repeat("é", MaxTextBytes/2) + "a", ErrTextTooLong},
		{"a\x00b", ErrTextControl},
		{"a\rb", ErrTextControl},
		{"\x1b[31mred", ErrTextControl},
		{"a\x7f", ErrTextControl},
		{"a\u0085", ErrTextControl},
		{"a\x08", ErrTextControl},
		{"a\xffb", ErrTextNotUTF8},
		{"a\xc3", ErrTextNotUTF8},
	}
	for _, tt := range invalid {
		if err := ValidateText(tt.text); !errors.Is(err, tt.want) {
			t.Errorf("ValidateText(%.20q, %d bytes) = %v, want %v", tt.text, len(tt.text), err, tt.want)
		}
	}
}

func TestTruncateText(t *testing.T) {
	text := "aé€😀b" // characters of 1, 2, 3, 4 and 1 bytes
	for max := -1; max <= len(text)+1; max++ {
		got := TruncateText(text, max)
		if !utf8.ValidString(got) {
			t.Errorf("TruncateText(%d) = %q, not valid UTF-8", max, got)
		}
		if !strings.HasPrefix(text, got) {
			t.Errorf("TruncateText(%d) = %q, not a prefix", max, got)
		}
		if len(got) > max && max >= 0 {
			t.Errorf("TruncateText(%d) = %q, %d bytes", max, got, len(got))
		}
		// Nothing more fits: the next character would cross max.
		if len(got) < len(text) {
			_, size := utf8.DecodeRuneInString(text[len(got):])
			if len(got)+size <= max {
				t.Errorf("TruncateText(%d) = %q, could keep one more character", max, got)
			}
		}
	}
	long := strings.Repeat("é", MaxTextBytes)
	if got := TruncateText(long, MaxTextBytes+1); len(got) != MaxTextBytes || ValidateText(got) != nil {
		t.Errorf("TruncateText to %d+1 bytes gave %d bytes", MaxTextBytes, len(got))
	}
}

func TestNormalizeNameReturnsNFC(t *testing.T) {
	got, err := NormalizeName("A\u030a") // A + combining ring above
	if err != nil {
		t.Fatal(err)
	}
	if !norm.NFC.IsNormalString(got) || got != "\u00c5" {
		t.Errorf("NormalizeName = %q, want Å in NFC", got)
	}
}

func TestQuoteShortCutsLongStrings(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	if got, want := QuoteShort("login"), `"login"`; got != want {
		t.Errorf("QuoteShort(login) = %s, want %s", got, want)
	}
	if got, want := QuoteShort(long), `"`+strings.Repeat("é", 32)+`"...`; got != want {
		t.Errorf("QuoteShort of 200 bytes = %s, want %s", got, want)
	}
	if got, want := Shorten(long), strings.Repeat("é", 32)+"..."; got != want {
		t.Errorf("Shorten of 200 bytes = %s, want %s", got, want)
	}
	if got := Shorten("login"); got != "login" {
		t.Errorf("Shorten(login) = %s, want login", got)
	}
}

func TestReservedNameErrorCarriesName(t *testing.T) {
	_, err := NormalizeName("Servers")
	var reserved *ReservedNameError
	if !errors.As(err, &reserved) || reserved.Name != "Servers" {
		t.Fatalf("NormalizeName(Servers) err = %v, want a ReservedNameError naming Servers", err)
	}
	if !errors.Is(err, ErrNameReserved) {
		t.Errorf("err = %v, want it to match ErrNameReserved", err)
	}
}
