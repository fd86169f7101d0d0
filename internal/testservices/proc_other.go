//go:build !linux

package testservices

import "syscall"

// dieWithParent does nothing where there is no parent-death signal: a
// server outlives a test binary that dies before its cleanup.
func dieWithParent(*syscall.SysProcAttr) {}
