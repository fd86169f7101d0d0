//go:build !unix

package testservices

import "syscall"

// runAs is the user a server runs as: always the test's own here.
type runAs struct{}

func serverUser() (*runAs, error) { return &runAs{}, nil }

func (r *runAs) apply(*syscall.SysProcAttr) {}

func (r *runAs) own(string) error { return nil }
