package signaling_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/signaling"
)

// BenchmarkPresenceLatency measures one presence update from a peer to
// another peer of the same room through the server, on loopback: one
// update in flight at a time, so this is latency, not throughput. The
// WebRTC cases use the unreliable "presence" channel on both legs, or
// (reliable) only the ordered channel, as a peer without presence does.
func BenchmarkPresenceLatency(b *testing.B) {
	type dialer func(s *testServer, b *testing.B) *client.Client
	ws := func(s *testServer, b *testing.B) *client.Client { return s.connectWS(b) }
	rtc := func(opts ...signaling.DialOption) dialer {
		return func(s *testServer, b *testing.B) *client.Client { c, _ := s.connectRTC(b, opts...); return c }
	}
	for _, bc := range []struct {
		name string
		dial dialer
	}{
		{"websocket", ws},
		{"webrtc-presence", rtc()},
		{"webrtc-reliable", rtc(signaling.WithoutPresence())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := startServer(b, serverOptions{})
			ctx := testCtx(b)
			from, to := bc.dial(s, b), bc.dial(s, b)
			hf, _ := from.Create(ctx)
			hf.Change(ctx, "", setKey("k", "v"))
			if err := hf.WaitAcked(ctx); err != nil {
				b.Fatal(err)
			}
			ht, err := to.Find(ctx, hf.ID())
			if err != nil {
				b.Fatal(err)
			}
			var lat []time.Duration
			lost := 0
			// {"seq": uint32}
			payload := []byte{0xa1, 0x63, 's', 'e', 'q', 0x1a, 0, 0, 0, 0}
			for i := 0; b.Loop(); i++ {
				binary.BigEndian.PutUint32(payload[6:], uint32(i))
				start := time.Now()
				if err := hf.Broadcast(ctx, payload); err != nil {
					b.Fatal(err)
				}
				if waitSeq(ctx, ht, uint32(i)) {
					lat = append(lat, time.Since(start))
				} else {
					lost++
				}
			}
			b.StopTimer()
			if len(lat) == 0 {
				b.Fatal("every update was lost")
			}
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
			b.ReportMetric(q(0.50), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
			b.ReportMetric(100*float64(lost)/float64(lost+len(lat)), "lost-%")
		})
	}
}

// waitSeq waits for the update numbered seq; an update lost on the
// unreliable channel gives up after a second.
func waitSeq(ctx context.Context, h *client.Handle, seq uint32) bool {
	timeout := time.NewTimer(time.Second)
	defer timeout.Stop()
	for {
		select {
		case e := <-h.Ephemeral():
			if len(e.Data) == 10 && binary.BigEndian.Uint32(e.Data[6:]) == seq {
				return true
			}
		case <-timeout.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// BenchmarkPresenceLatencyUnderLoss is the case the unreliable channel is
// for: 2% of the datagrams each WebRTC client sends or receives are lost
// (after the connection is up). Over the reliable channel a lost packet
// holds every later update until SCTP retransmits it; over the presence
// channel that update is lost and the next one goes through. Each
// iteration is 500 updates; run with -benchtime 1x.
func BenchmarkPresenceLatencyUnderLoss(b *testing.B) {
	for _, bc := range []struct {
		name     string
		opts     []signaling.DialOption
		lossWait time.Duration // how long before an update counts as lost
	}{
		{"webrtc-presence", nil, 100 * time.Millisecond},
		{"webrtc-reliable", []signaling.DialOption{signaling.WithoutPresence()}, 10 * time.Second},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := startServer(b, serverOptions{})
			ctx := testCtx(b)
			var nets []*lossyNet
			dial := func() *client.Client {
				sn, err := stdnet.NewNet()
				if err != nil {
					b.Fatal(err)
				}
				n := &lossyNet{Net: sn, rng: rand.New(rand.NewPCG(1, uint64(len(nets))))}
				nets = append(nets, n)
				c, _ := s.connectRTC(b, append(bc.opts, signaling.WithNet(n))...)
				return c
			}
			from, to := dial(), dial()
			hf, _ := from.Create(ctx)
			hf.Change(ctx, "", setKey("k", "v"))
			hf.WaitAcked(ctx)
			ht, err := to.Find(ctx, hf.ID())
			if err != nil {
				b.Fatal(err)
			}
			for _, n := range nets {
				n.setLoss(0.02)
			}
			var lat []time.Duration
			lost, seq := 0, uint32(0)
			payload := []byte{0xa1, 0x63, 's', 'e', 'q', 0x1a, 0, 0, 0, 0}
			for b.Loop() {
				for range 500 {
					seq++
					binary.BigEndian.PutUint32(payload[6:], seq)
					start := time.Now()
					if err := hf.Broadcast(ctx, payload); err != nil {
						b.Fatal(err)
					}
					if waitSeqFor(ctx, ht, seq, bc.lossWait) {
						lat = append(lat, time.Since(start))
					} else {
						lost++
					}
				}
			}
			for _, n := range nets {
				n.setLoss(0)
			}
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
			b.ReportMetric(q(0.50), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
			b.ReportMetric(100*float64(lost)/float64(lost+len(lat)), "lost-%")
		})
	}
}

func waitSeqFor(ctx context.Context, h *client.Handle, seq uint32, wait time.Duration) bool {
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for {
		select {
		case e := <-h.Ephemeral():
			if len(e.Data) == 10 && binary.BigEndian.Uint32(e.Data[6:]) == seq {
				return true
			}
		case <-timeout.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// lossyNet drops a share of the datagrams sent and received.
type lossyNet struct {
	*stdnet.Net
	mu   sync.Mutex
	rng  *rand.Rand
	loss float64
}

func (n *lossyNet) setLoss(p float64) {
	n.mu.Lock()
	n.loss = p
	n.mu.Unlock()
}

func (n *lossyNet) drop() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.loss > 0 && n.rng.Float64() < n.loss
}

func (n *lossyNet) ListenUDP(network string, addr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, addr)
	if err != nil {
		return nil, err
	}
	return &lossyConn{UDPConn: c, n: n}, nil
}

type lossyConn struct {
	transport.UDPConn
	n *lossyNet
}

func (c *lossyConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.n.drop() {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, addr)
}

func (c *lossyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.n.drop() {
			return n, addr, err
		}
	}
}
