package signaling_test

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/signaling"
)

// cuttableNet is the OS network until cut, then a black hole: what a
// laptop closing its lid looks like to the server.
type cuttableNet struct {
	*stdnet.Net
	cut atomic.Bool
}

func (n *cuttableNet) ListenUDP(network string, addr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, addr)
	if err != nil {
		return nil, err
	}
	return &cuttableConn{UDPConn: c, cut: &n.cut}, nil
}

type cuttableConn struct {
	transport.UDPConn
	cut *atomic.Bool
}

func (c *cuttableConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, addr)
}

func (c *cuttableConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}

func TestVanishedPeerFailsAndLeavesTheRoom(t *testing.T) {
	s := startServer(t, serverOptions{gateway: func(c *signaling.GatewayConfig) { c.FailedTimeout = 2 * time.Second }})
	ctx := testCtx(t)
	ws := s.connectWS(t)
	hw, _ := ws.Create(ctx)
	hw.Change(ctx, "", setKey("k", "v"))
	hw.WaitAcked(ctx)

	sn, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	cn := &cuttableNet{Net: sn}
	conn, err := signaling.DialServer(ctx, s.http, "", signaling.WithNet(cn))
	if err != nil {
		t.Fatal(err)
	}
	rtc, err := client.New(ctx, conn, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rtc.Close()
	hr, err := rtc.Find(ctx, hw.ID())
	if err != nil {
		t.Fatal(err)
	}
	hr.Broadcast(ctx, []byte{0xa1, 0x61, 'x', 0x01})
	recvEphemeral(t, ctx, hw)
	room := s.rooms.Lookup(hw.ID())

	cn.cut.Store(true)
	start := time.Now()
	eventually(t, ctx, "the room to see the vanished peer leave", func() bool {
		p, err := room.Presence(ctx)
		return err == nil && !hasPeer(p, rtc.PeerID())
	})
	eventually(t, ctx, "the gateway to release the peer", func() bool { return s.gw.Peers() == 0 })
	if got := s.metric(t, "casual_rtc_peers_failed_total", "reason", "ice_failed"); got != 1 {
		t.Errorf("casual_rtc_peers_failed_total{reason=ice_failed} = %v, want 1", got)
	}
	t.Logf("session ended %s after the network was cut", time.Since(start).Round(100*time.Millisecond))
}
