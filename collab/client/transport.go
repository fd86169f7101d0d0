package client

import (
	"context"
	"io"
	"net"
	"sync"
)

// Transport carries whole frames (one CBOR message each) between two peers.
// Implementations allow one Send and one Recv in flight at a time, and Close
// at any moment; a Client serialises its own calls accordingly.
//
// Recv returns io.EOF once the remote side has closed and every frame it
// sent has been received; both return net.ErrClosed after a local Close.
type Transport interface {
	// Send writes one frame. The transport does not retain frame.
	Send(ctx context.Context, frame []byte) error
	// Recv returns the next frame.
	Recv(ctx context.Context) ([]byte, error)
	// Close releases the transport; it is idempotent.
	Close() error
}

// pipeCapacity bounds the frames buffered in each direction of a Pipe.
const pipeCapacity = 64

// Pipe returns the two ends of an in-process transport, as server-side peers
// and tests use. Each direction buffers up to 64 frames; Send blocks beyond
// that until the other end receives, its context ends, or either end closes.
// After one end closes, the other still receives what was already sent, then
// io.EOF; its Send fails with io.ErrClosedPipe.
func Pipe() (a, b Transport) {
	ab := make(chan []byte, pipeCapacity)
	ba := make(chan []byte, pipeCapacity)
	pa := &pipeEnd{in: ba, out: ab, closed: make(chan struct{})}
	pb := &pipeEnd{in: ab, out: ba, closed: make(chan struct{})}
	pa.peer, pb.peer = pb, pa
	return pa, pb
}

type pipeEnd struct {
	in     <-chan []byte
	out    chan<- []byte
	closed chan struct{} // closed by Close
	once   sync.Once
	peer   *pipeEnd
}

func (p *pipeEnd) Send(ctx context.Context, frame []byte) error {
	if err := ctx.Err(); err != nil { // as over a socket: an ended ctx sends nothing
		return err
	}
	select { // a closed pipe wins over a free buffer slot
	case <-p.closed:
		return net.ErrClosed
	case <-p.peer.closed:
		return io.ErrClosedPipe
	default:
	}
	f := append([]byte(nil), frame...)
	select {
	case p.out <- f:
		return nil
	case <-p.closed:
		return net.ErrClosed
	case <-p.peer.closed:
		return io.ErrClosedPipe
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeEnd) Recv(ctx context.Context) ([]byte, error) {
	select {
	case <-p.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case f := <-p.in:
		return f, nil
	case <-p.closed:
		return nil, net.ErrClosed
	case <-p.peer.closed:
		// Frames sent before the peer closed are still delivered.
		select {
		case f := <-p.in:
			return f, nil
		default:
			return nil, io.EOF
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipeEnd) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}
