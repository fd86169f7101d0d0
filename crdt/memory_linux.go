//go:build linux && cgo

package crdt

/*
#include <malloc.h>
*/
import "C"

// TrimMemory hands the C heap's free pages back to the operating system
// (glibc malloc_trim). Automerge's memory lives in the C heap, and glibc
// keeps what a document or sync state freed for reuse; an idle server calls
// this (after a Go GC, whose finalizers free Automerge's results) so its
// resident size falls to what it really holds.
func TrimMemory() { C.malloc_trim(0) }
