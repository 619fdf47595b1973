//go:build !linux

package store

import (
	"errors"

	bolt "go.etcd.io/bbolt"
)

// unmapTouchedPages is implemented on Linux only.
func unmapTouchedPages(*bolt.DB, *bolt.Tx) error {
	return errors.ErrUnsupported
}
