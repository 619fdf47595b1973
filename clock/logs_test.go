package clock

import (
	"context"
	"log/slog"
	"sync"
	"testing"
)

// recordingHandler is a slog.Handler that keeps every record so tests can
// check what was logged, and also prints each one through t.Log.
type recordingHandler struct {
	t       *testing.T
	mu      sync.Mutex
	records []slog.Record
}

func newRecordingLogger(t *testing.T) (*slog.Logger, *recordingHandler) {
	h := &recordingHandler{t: t}
	return slog.New(h), h
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	h.t.Log(r.Level, r.Message, attrsOf(r))
	return nil
}

func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h *recordingHandler) WithGroup(string) slog.Handler { return h }

// withMessage returns the attributes of every record with the given message,
// oldest first.
func (h *recordingHandler) withMessage(msg string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var found []map[string]any
	for _, r := range h.records {
		if r.Message == msg {
			found = append(found, attrsOf(r))
		}
	}
	return found
}

func attrsOf(r slog.Record) map[string]any {
	attrs := make(map[string]any, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.Any()
		return true
	})
	return attrs
}
