//go:build !linux

package embedded

import "os"

// fdatasync is a full sync where the platform has no fdatasync.
func fdatasync(f *os.File) error { return f.Sync() }
