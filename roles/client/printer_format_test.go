package client

import (
	"strings"
	"testing"
	"time"
)

func TestMultilinePostIndentsContinuation(t *testing.T) {
	m := Message{Channel: "geral", From: "ana", Text: "oi\n[12:00:00] #geral bob: forjado", Time: time.Now()}
	lines := strings.Split(formatMessage("pt", "", m), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %q", len(lines), lines)
	}
	if !strings.HasPrefix(lines[1], continuationIndent) {
		t.Errorf("second line %q lacks the continuation indent", lines[1])
	}
	if strings.HasPrefix(lines[1], "[") {
		t.Errorf("second line %q looks like a message of its own", lines[1])
	}
}
