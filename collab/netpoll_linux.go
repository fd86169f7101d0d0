//go:build linux

package collab

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
)

// poller reports which registered connections have bytes to read, with
// one epoll instance and one goroutine for the whole server, so that a
// connection with nothing to read holds no goroutine. Registrations are
// one-shot: after a connection is reported it is not reported again until
// it is re-armed, so at most one reading goroutine runs per connection.
type poller struct {
	epfd         int
	wakeR, wakeW int // a pipe whose write end interrupts EpollWait at close

	mu     sync.Mutex
	conns  map[int32]pollable
	closed bool

	bufs sync.Pool // *[]byte read buffers, borrowed per wake-up
	done chan struct{}
}

// pollable is a registered connection: readable is called on a goroutine
// of its own when bytes (or the end of the stream) arrived.
type pollable interface{ readable() }

const (
	pollEvents  = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT
	readBufSize = 64 << 10
)

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("epoll wake pipe: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(pipe[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(pipe[0])
		syscall.Close(pipe[1])
		return nil, fmt.Errorf("epoll: %w", err)
	}
	p := &poller{epfd: epfd, wakeR: pipe[0], wakeW: pipe[1], conns: map[int32]pollable{}, done: make(chan struct{})}
	p.bufs.New = func() any { b := make([]byte, readBufSize); return &b }
	go p.run()
	return p, nil
}

// run is the poller's goroutine; close stops it.
func (p *poller) run() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == p.wakeR {
				return
			}
			p.mu.Lock()
			c := p.conns[ev.Fd]
			p.mu.Unlock()
			if c != nil {
				go c.readable()
			}
		}
	}
}

// add registers fd for c and arms it.
func (p *poller) add(fd int, c pollable) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errPollerClosed
	}
	p.conns[int32(fd)] = c
	ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		delete(p.conns, int32(fd))
		return fmt.Errorf("epoll add: %w", err)
	}
	return nil
}

// rearm asks to be told again when fd has bytes to read.
func (p *poller) rearm(fd int) error {
	ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return fmt.Errorf("epoll rearm: %w", err)
	}
	return nil
}

// remove forgets fd's registration by c; call it before closing fd.
func (p *poller) remove(fd int, c pollable) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[int32(fd)] != c {
		return
	}
	delete(p.conns, int32(fd))
	// The fd is about to close, which drops it from the epoll set anyway.
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
}

// close stops the poller's goroutine and releases its descriptors. The
// registered connections must be closed already.
func (p *poller) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	_, _ = syscall.Write(p.wakeW, []byte{1})
	<-p.done
	syscall.Close(p.epfd)
	syscall.Close(p.wakeR)
	syscall.Close(p.wakeW)
}

func (p *poller) buffer() *[]byte   { return p.bufs.Get().(*[]byte) }
func (p *poller) release(b *[]byte) { p.bufs.Put(b) }

var errPollerClosed = errors.New("poller closed")

// errWouldBlock: nothing to read right now.
var errWouldBlock = errors.New("would block")

// rawFD returns the descriptor of a connection the poller can watch.
func rawFD(rc syscall.RawConn) (int, error) {
	var fd int
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return 0, err
	}
	return fd, nil
}

// readNow reads what is there without waiting: errWouldBlock if nothing,
// io.EOF at the end of the stream.
func readNow(rc syscall.RawConn, b []byte) (int, error) {
	var (
		n   int
		err error
	)
	if cerr := rc.Read(func(fd uintptr) bool {
		for {
			n, err = syscall.Read(int(fd), b)
			if err != syscall.EINTR {
				return true // never park: the poller says when to come back
			}
		}
	}); cerr != nil {
		return 0, cerr
	}
	switch {
	case err == syscall.EAGAIN:
		return 0, errWouldBlock
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}
