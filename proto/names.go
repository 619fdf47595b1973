package proto

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Limits on names and text, in the units the protocol states them.
const (
	MaxNameRunes = 32   // characters after NFC normalisation
	MaxTextBytes = 8192 // bytes of UTF-8
)

// ReservedTopic is the pub/sub topic of coordinator announcements, so no user
// or channel may take it as a name.
const ReservedTopic = "servers"

// Reasons a name or a text is invalid. Servers turn them into localised
// descriptions with the lang package, so the messages here are for logs.
var (
	ErrNameEmpty    = errors.New("proto: name is empty")
	ErrNameTooLong  = errors.New("proto: name is longer than 32 characters")
	ErrNameChars    = errors.New("proto: name has characters other than letters, digits, _, - and .")
	ErrNameReserved = errors.New("proto: name is reserved")
	ErrNameNotUTF8  = errors.New("proto: name is not valid UTF-8")
	ErrTextEmpty    = errors.New("proto: text is empty")
	ErrTextTooLong  = errors.New("proto: text is longer than 8192 bytes")
	ErrTextNotUTF8  = errors.New("proto: text is not valid UTF-8")
	ErrTextControl  = errors.New("proto: text has control characters")
)

var folder = cases.Fold()

// ReservedNameError is the error of a name that folds to ReservedTopic. It
// carries the name as written, for the description, and matches
// ErrNameReserved under errors.Is.
type ReservedNameError struct {
	Name string // in NFC
}

func (e *ReservedNameError) Error() string {
	return "proto: name " + QuoteShort(e.Name) + " is reserved"
}

// Is reports whether target is ErrNameReserved.
func (e *ReservedNameError) Is(target error) bool { return target == ErrNameReserved }

// maxQuotedBytes bounds how much of a string QuoteShort keeps.
const maxQuotedBytes = 64

// Shorten returns s for a log line, cut like QuoteShort but not quoted,
// because the log handler quotes values itself.
func Shorten(s string) string {
	if len(s) <= maxQuotedBytes {
		return s
	}
	return TruncateText(s, maxQuotedBytes) + "..."
}

// QuoteShort quotes s with strconv.Quote for an error description or a log
// line. A string longer than 64 bytes is cut at a character boundary and
// followed by "...", so that a huge field from the network makes neither a
// huge reply nor a huge log line.
func QuoteShort(s string) string {
	if len(s) <= maxQuotedBytes {
		return strconv.Quote(s)
	}
	return strconv.Quote(TruncateText(s, maxQuotedBytes)) + "..."
}

// NormalizeName validates a user or channel name and returns it in NFC, as
// it is shown. Use FoldName for the key that decides uniqueness.
func NormalizeName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", ErrNameNotUTF8
	}
	if !isASCII(name) {
		name = norm.NFC.String(name)
	}
	if name == "" {
		return "", ErrNameEmpty
	}
	if utf8.RuneCountInString(name) > MaxNameRunes {
		return "", ErrNameTooLong
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' && r != '.' {
			return "", ErrNameChars
		}
	}
	if FoldName(name) == ReservedTopic {
		return "", &ReservedNameError{Name: name}
	}
	return name, nil
}

// NormalizeChannel is NormalizeName after dropping one leading '#', which
// people type out of IRC habit and which is not part of the name.
func NormalizeChannel(name string) (string, error) {
	return NormalizeName(strings.TrimPrefix(name, "#"))
}

// FoldName returns the key under which a valid name is unique: the NFC form
// after Unicode case folding, so "Ana", "ANA" and "ana" are one name.
func FoldName(name string) string {
	if isASCII(name) {
		return foldASCII(name)
	}
	return foldUnicode(name)
}

// foldUnicode is FoldName for any valid name.
func foldUnicode(name string) string {
	folded := norm.NFC.String(folder.String(norm.NFC.String(name)))
	return strings.Map(foldCherokee, folded)
}

// foldASCII is FoldName for a name of ASCII characters, which are already
// in NFC and whose only case folding maps A-Z to a-z. A publish folds its
// names several times, and the Unicode path took about 4 % of a server's
// CPU in a publish profile.
func foldASCII(name string) string {
	upper := strings.IndexFunc(name, func(r rune) bool { return 'A' <= r && r <= 'Z' })
	if upper < 0 {
		return name
	}
	b := []byte(name)
	for i := upper; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldCherokee maps a Cherokee letter to its capital, which is what
// Unicode's CaseFolding.txt folds both cases to. NOTE: x/text v0.44.0's
// cases.Fold maps capitals to small letters and small letters to capitals
// instead, so without this step "Ꮌ" (U+13BC) and "ꮌ" (U+AB8C) would get
// different keys.
func foldCherokee(r rune) rune {
	if unicode.Is(unicode.Cherokee, r) {
		return unicode.ToUpper(r)
	}
	return r
}

// ValidateText checks a post or direct message against the protocol's rules:
// 1 to 8192 bytes of UTF-8 with no control characters but newline and tab.
func ValidateText(text string) error {
	if text == "" {
		return ErrTextEmpty
	}
	if len(text) > MaxTextBytes {
		return ErrTextTooLong
	}
	if !utf8.ValidString(text) {
		return ErrTextNotUTF8
	}
	for _, r := range text {
		if r == '\n' || r == '\t' {
			continue
		}
		if unicode.IsControl(r) {
			return ErrTextControl
		}
	}
	return nil
}

// TruncateText cuts text to at most max bytes without splitting a character,
// for clients that shorten what a person typed before sending it.
func TruncateText(text string, max int) string {
	if max <= 0 {
		return ""
	}
	if len(text) <= max {
		return text
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut]
}
