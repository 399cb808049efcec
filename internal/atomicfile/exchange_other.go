//go:build !linux

package atomicfile

import "errors"

// exchange is not available: ReplaceDir falls back to two renames.
func exchange(a, b string) error { return errors.New("atomic exchange not supported") }
