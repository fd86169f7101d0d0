//go:build !linux || !cgo

package crdt

// TrimMemory does nothing here: only glibc's malloc is asked to trim.
func TrimMemory() {}
