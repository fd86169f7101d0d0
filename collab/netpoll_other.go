//go:build !linux

package collab

import (
	"errors"
	"syscall"
)

// poller is Linux-only (epoll); elsewhere every WebSocket is read by a
// goroutine of its own (Server.Serve).
type poller struct{}

type pollable interface{ readable() }

var errNoPoller = errors.New("connection poller: not supported on this platform")

func newPoller() (*poller, error)                  { return nil, errNoPoller }
func (p *poller) add(int, pollable) error          { return errNoPoller }
func (p *poller) rearm(int) error                  { return errNoPoller }
func (p *poller) remove(int, pollable)             {}
func (p *poller) close()                           {}
func (p *poller) buffer() *[]byte                  { b := make([]byte, 0); return &b }
func (p *poller) release(*[]byte)                  {}
func rawFD(syscall.RawConn) (int, error)           { return 0, errNoPoller }
func readNow(syscall.RawConn, []byte) (int, error) { return 0, errNoPoller }

var errWouldBlock = errors.New("would block")
