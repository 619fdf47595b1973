package proto

import (
	"fmt"
	"strings"
	"time"
)

// extendedLayouts are the ISO 8601 extended forms (2026-12-05T13:07:04)
// that ParseTime tries after normalising the text, most common first.
// Layouts without a zone are read as UTC. The fraction of a second is
// optional in each, and time.Parse reads a comma in it as a decimal point.
var extendedLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02T15:04Z0700",
	"2006-01-02T15:04Z07",
	"2006-01-02",
}

// basicLayouts are the ISO 8601 basic forms (20261205T130704).
var basicLayouts = []string{
	"20060102T150405.999999999Z0700",
	"20060102T150405.999999999",
	"20060102T150405.999999999Z07",
	"20060102T150405.999999999Z07:00",
}

// ParseTime reads an ISO 8601 timestamp leniently: extended or basic
// format, a T, t or space between date and time, seconds optional in the
// extended format, a zone as Z, z, ±hh:mm, ±hhmm or ±hh, or none for UTC.
// A leap second (23:59:60 UTC on the last day of a month) is read as the
// first second of the next day, because time.Time cannot hold it.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	// RFC 3339 is the form msgsys sends, so it is tried on the text as
	// given, before any copy.
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}

	text := normalizeISO(s)
	leap := cutLeapSecond(text)
	layouts := extendedLayouts
	if isBasicISO(text) {
		layouts = basicLayouts
	}
	for _, layout := range layouts {
		t, err := time.Parse(layout, string(text))
		if err != nil {
			continue
		}
		t = t.UTC()
		if !leap {
			return t, nil
		}
		next := t.Add(time.Second)
		if t.Hour() == 23 && t.Minute() == 59 && next.Day() == 1 {
			return next, nil
		}
		break
	}
	return time.Time{}, fmt.Errorf("proto: %q is not an ISO 8601 timestamp", s)
}

// normalizeISO returns a copy of s in the letter case and separator that
// time.Parse expects: RFC 3339 allows a lowercase t and z, and ISO 8601 a
// space between date and time.
func normalizeISO(s string) []byte {
	// The space can only stand for the T after an extended (10 bytes) or a
	// basic (8 bytes) date. A run of spaces is read as one, as time.Parse
	// reads a space in a layout.
	if i := strings.IndexByte(s, ' '); i == 10 || i == 8 {
		s = s[:i] + "T" + strings.TrimLeft(s[i:], " ")
	}
	text := []byte(s)
	for i, c := range text {
		if c == 't' || c == 'z' {
			text[i] = c - 'a' + 'A'
		}
	}
	return text
}

// isBasicISO reports whether text starts with a basic-format date and a T.
func isBasicISO(text []byte) bool {
	return len(text) > 8 && text[8] == 'T'
}

// cutLeapSecond reports whether the seconds field of a normalised
// timestamp is 60, and then changes it to 59, because time.Parse rejects
// 60. The caller adds the second back.
func cutLeapSecond(text []byte) bool {
	var at int // index of the seconds field
	switch {
	case len(text) >= 19 && text[10] == 'T' && text[16] == ':':
		at = 17
	case len(text) >= 15 && isBasicISO(text):
		at = 13
	default:
		return false
	}
	if text[at] != '6' || text[at+1] != '0' {
		return false
	}
	text[at], text[at+1] = '5', '9'
	return true
}
