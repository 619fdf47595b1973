package proto

import "fmt"

// DecodeInto decodes a frame {"service": ..., "data": {...}} into data,
// a pointer to a struct, after the same nesting checks as Decode. Server to
// server messages use it because they are typed and can be large. Unlike
// Decode it is strict: a field of the wrong type fails the message, and so
// does a negative or out-of-range data.clock. NOTE: the decoder still
// takes bin for a string field, and wraps a negative integer in any other
// unsigned field (such as a version number) around to a huge value.
func DecodeInto(frame []byte, data any) (service string, err error) {
	if len(frame) > MaxMessageBytes {
		return "", ErrFrameTooLarge
	}
	if err := scan(frame, MaxDepth); err != nil {
		return "", err
	}
	if err := checkDataClock(frame); err != nil {
		return "", err
	}
	env := envelope[any]{Data: data}
	if err := unmarshalInto(frame, &env); err != nil {
		return "", fmt.Errorf("proto: invalid message: %w", err)
	}
	return env.Service, nil
}

// PeekLang reads only the data's lang of a request frame, the language a
// msgsys client shows text in, or "" when the frame is malformed or has
// none. A receiver that rejects a request before decoding it, as too
// large or while catching up, uses it to reply in the client's language.
func PeekLang(frame []byte) string {
	if len(frame) > MaxMessageBytes || scan(frame, MaxDepth) != nil {
		return ""
	}
	data := mapValue(frame, "data")
	if len(data) == 0 {
		return ""
	}
	value := mapValue(data, "lang")
	if len(value) == 0 || !isStr(value[0]) {
		return ""
	}
	lang, _ := strBody(value)
	return string(lang)
}

// PeekRetrySafe reports whether a client request frame may run twice
// with the effect of once: a read, or a write whose data carries a text
// id, by which servers recognise a repeat. A login is a write too, since
// every login is stored with its time. A broker that sends a request to a
// second server, when the first is slow to reply, sends only these.
func PeekRetrySafe(frame []byte) bool {
	service, err := PeekService(frame)
	if err != nil {
		return false
	}
	switch service {
	case ServiceUsers, ServiceChannels, ServiceHistory:
		return true
	}
	data := mapValue(frame, "data")
	if len(data) == 0 {
		return false
	}
	id := mapValue(data, "id")
	if len(id) == 0 || !isStr(id[0]) {
		return false
	}
	body, _ := strBody(id)
	return len(body) > 0
}

// PeekService reads only the service name of a frame, so a dispatcher can
// choose the handler that decodes the rest.
func PeekService(frame []byte) (string, error) {
	if len(frame) > MaxMessageBytes {
		return "", ErrFrameTooLarge
	}
	if err := scan(frame, MaxDepth); err != nil {
		return "", err
	}
	// scan accepted the frame, so mapValue and strBody may trust its
	// sizes. This runs for every server-to-server request, and the
	// reflective decoder costs more than the rest of a small one.
	if code := frame[0]; !(code >= 0x80 && code <= 0x8f) && code != 0xde && code != 0xdf {
		return "", ErrNotMap
	}
	value := mapValue(frame, "service")
	if len(value) == 0 || value[0] == 0xc0 {
		return "", ErrNoService
	}
	if !isStr(value[0]) {
		return "", ErrServiceType
	}
	service, _ := strBody(value)
	if len(service) == 0 {
		return "", ErrNoService
	}
	return string(service), nil
}
