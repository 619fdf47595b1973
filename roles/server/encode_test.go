package server

import "github.com/shamaton/msgpack/v2"

func encodeAny(v any) ([]byte, error) { return msgpack.Marshal(v) }
