// Package lang picks the language of text that people read: client and bot
// output, and the descriptions servers put in error replies.
package lang

import (
	"cmp"
	"fmt"
	"os"
	"strings"
)

// Supported languages. Brazilian Portuguese is the default because the
// system's first users are Brazilian students and teachers.
const (
	PT = "pt"
	EN = "en"
)

// Pick returns the language named by flag ("pt", "en", "pt-BR", "en_US"),
// or, when flag is empty, the one the locale of the environment starts
// with, or Portuguese. The locale is the first of LC_ALL, LC_MESSAGES and
// LANG that is set, as for other programs.
func Pick(flag string) string {
	choice := strings.ToLower(flag)
	if choice == "" {
		choice = strings.ToLower(cmp.Or(os.Getenv("LC_ALL"), os.Getenv("LC_MESSAGES"), os.Getenv("LANG")))
	}
	if strings.HasPrefix(choice, EN) {
		return EN
	}
	return PT
}

// Parse is Pick for a value a person gave, such as a --lang flag: it
// rejects a language other than Portuguese and English instead of
// falling back to Portuguese. The error is in the language of the
// environment, as the flag's is unknown.
func Parse(flag string) (string, error) {
	value := strings.ToLower(flag)
	if value != "" && !strings.HasPrefix(value, PT) && !strings.HasPrefix(value, EN) {
		return "", fmt.Errorf(textUnsupported.In(Pick("")), flag)
	}
	return Pick(value), nil
}

var textUnsupported = Text{
	PT: "idioma %q não suportado: use pt ou en",
	EN: "language %q is not supported: use pt or en",
}

// Requested returns the language that a request's lang field names, pt
// or en in any case and with any region, or fallback for any other value.
// Servers describe errors in it, so that a client shows them in its own
// language whatever the server's.
func Requested(value, fallback string) string {
	value = strings.ToLower(value)
	switch {
	case strings.HasPrefix(value, EN):
		return EN
	case strings.HasPrefix(value, PT):
		return PT
	}
	return fallback
}

// Text is one message in both languages.
type Text struct {
	PT string
	EN string
}

// In returns the text in language l.
func (t Text) In(l string) string {
	if l == EN {
		return t.EN
	}
	return t.PT
}

// Size formats a limit of n bytes for a description, in the largest binary
// unit that divides it exactly: "64 KiB", "16 MiB", "1000 bytes". The unit
// symbols are the same in Portuguese and English.
func Size(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
