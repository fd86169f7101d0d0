package signaling_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/signaling"
)

// p2pPeer is a Go WebRTC peer that negotiates through the relay, as two
// browsers do: the newcomer offers, candidates trickle both ways.
type p2pPeer struct {
	t    *testing.T
	sig  *sigPeer
	api  *webrtc.API
	name string

	mu      sync.Mutex
	pc      *webrtc.PeerConnection
	pending []webrtc.ICECandidateInit // candidates that came before the description
	hasDesc bool

	got chan string
}

func newP2P(t *testing.T, s *testServer, doc crdt.DocID, name string) (*p2pPeer, []string) {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	sig, peers := s.signal(t, doc, name)
	return &p2pPeer{t: t, sig: sig, name: name, api: webrtc.NewAPI(webrtc.WithSettingEngine(se)),
		got: make(chan string, 4)}, peers
}

func (p *p2pPeer) newPC(remote string) *webrtc.PeerConnection {
	pc, err := p.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		p.t.Error(err)
		return nil
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		init := webrtc.ICECandidateInit{} // nil: end of candidates
		if c != nil {
			init = c.ToJSON()
		}
		p.sig.send(map[string]any{"type": "candidate", "to": remote, "candidate": init})
	})
	p.mu.Lock()
	p.pc = pc
	p.mu.Unlock()
	return pc
}

func (p *p2pPeer) onChannel(dc *webrtc.DataChannel) {
	dc.OnMessage(func(m webrtc.DataChannelMessage) { p.got <- string(m.Data) })
}

// call offers a data channel "chat" to remote.
func (p *p2pPeer) call(remote string) *webrtc.DataChannel {
	pc := p.newPC(remote)
	dc, err := pc.CreateDataChannel("chat", nil)
	if err != nil {
		p.t.Fatal(err)
	}
	p.onChannel(dc)
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		p.t.Fatal(err)
	}
	p.sig.send(map[string]any{"type": "offer", "to": remote, "sdp": offer.SDP})
	return dc
}

// serve handles relayed messages until the relay connection closes.
func (p *p2pPeer) serve() {
	for {
		m, err := p.sig.read()
		if err != nil {
			return
		}
		switch m.Type {
		case signaling.TypeOffer:
			pc := p.newPC(m.From)
			pc.OnDataChannel(p.onChannel)
			p.describe(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP})
			answer, err := pc.CreateAnswer(nil)
			if err == nil {
				err = pc.SetLocalDescription(answer)
			}
			if err != nil {
				p.t.Error(err)
				return
			}
			p.sig.send(map[string]any{"type": "answer", "to": m.From, "sdp": answer.SDP})
		case signaling.TypeAnswer:
			p.describe(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
		case signaling.TypeCandidate:
			p.candidate(m.Candidate)
		case signaling.TypeError:
			p.t.Errorf("%s got relay error %s: %s", p.name, m.Code, m.Message)
		}
	}
}

func (p *p2pPeer) describe(d webrtc.SessionDescription) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.pc.SetRemoteDescription(d); err != nil {
		p.t.Error(err)
	}
	p.hasDesc = true
	for _, c := range p.pending {
		p.pc.AddICECandidate(c)
	}
	p.pending = nil
}

func (p *p2pPeer) candidate(c *signaling.Candidate) {
	if c == nil || c.Candidate == "" {
		return
	}
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.hasDesc {
		p.pending = append(p.pending, init)
		return
	}
	if err := p.pc.AddICECandidate(init); err != nil {
		p.t.Error(err)
	}
}

func (p *p2pPeer) close() {
	p.sig.conn.Close()
	p.mu.Lock()
	pc := p.pc
	p.mu.Unlock()
	if pc != nil {
		pc.GracefulClose()
	}
}

func (p *p2pPeer) expect(ctx context.Context, want string) {
	p.t.Helper()
	select {
	case got := <-p.got:
		if got != want {
			p.t.Fatalf("%s got %q, want %q", p.name, got, want)
		}
	case <-ctx.Done():
		p.t.Fatalf("%s never got %q", p.name, want)
	}
}

func TestTwoPeersOpenADirectChannelThroughTheRelay(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := testCtx(t)
	doc := crdt.NewDocID()
	alice, _ := newP2P(t, s, doc, "alice")
	bob, peers := newP2P(t, s, doc, "bob")
	if len(peers) != 1 || peers[0] != "alice" {
		t.Fatalf("bob sees %v", peers)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer alice.close()
	defer bob.close()
	for _, p := range []*p2pPeer{alice, bob} {
		wg.Add(1)
		go func() { defer wg.Done(); p.serve() }()
	}
	dc := bob.call("alice")
	open := make(chan struct{})
	dc.OnOpen(func() { close(open) })
	select {
	case <-open:
	case <-ctx.Done():
		t.Fatal("data channel never opened")
	}
	if err := dc.SendText("hello alice"); err != nil {
		t.Fatal(err)
	}
	alice.expect(ctx, "hello alice")
	raw, _ := json.Marshal(s.relay.Peers(doc))
	t.Logf("room: %s", raw)
}
