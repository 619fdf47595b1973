// Package lang picks the language of text that people read: client and bot
// output, and the descriptions servers put in error replies.
package lang

import (
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
// or, when flag is empty, the one the LANG environment variable starts
// with, or Portuguese.
func Pick(flag string) string {
	choice := strings.ToLower(flag)
	if choice == "" {
		choice = strings.ToLower(os.Getenv("LANG"))
	}
	if strings.HasPrefix(choice, EN) {
		return EN
	}
	return PT
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
