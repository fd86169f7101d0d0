package signaling_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/signaling"
)

// sigPeer is a relay connection as a browser would hold it.
type sigPeer struct {
	t    *testing.T
	conn *websocket.Conn
	self string
	wmu  sync.Mutex // one writer at a time (pion callbacks send too)
}

// signal connects to the relay; it fails the test unless the relay welcomes
// the peer with the peers message.
func (s *testServer) signal(t *testing.T, doc crdt.DocID, peer string) (*sigPeer, []string) {
	t.Helper()
	p, first := s.signalRaw(t, string(doc), peer, "")
	if first.Type != signaling.TypePeers {
		t.Fatalf("relay greeted %s with %+v", peer, first)
	}
	p.self = first.Self
	return p, first.Peers
}

func (s *testServer) signalRaw(t *testing.T, doc, peer, token string) (*sigPeer, signaling.Message) {
	t.Helper()
	q := url.Values{"doc": {doc}}
	if peer != "" {
		q.Set("peer", peer)
	}
	if token != "" {
		q.Set("token", token)
	}
	u := "ws" + strings.TrimPrefix(s.http, "http") + "/signal?" + q.Encode()
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &sigPeer{t: t, conn: conn}
	return p, p.next()
}

func (p *sigPeer) send(v any) {
	p.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		p.t.Fatal(err)
	}
	p.sendText(string(b))
}

func (p *sigPeer) sendText(s string) {
	p.t.Helper()
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if err := p.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *sigPeer) next() signaling.Message {
	p.t.Helper()
	m, err := p.read()
	if err != nil {
		p.t.Fatal(err)
	}
	return m
}

func (p *sigPeer) read() (signaling.Message, error) {
	var m signaling.Message
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, b, err := p.conn.ReadMessage()
	if err != nil {
		return m, err
	}
	if typ != websocket.TextMessage {
		p.t.Fatalf("relay sent frame type %d, want text", typ)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		p.t.Fatalf("relay sent %q: %v", b, err)
	}
	return m, nil
}

// closed reads until the relay closes the connection, returning the code.
func (p *sigPeer) closed() int {
	p.t.Helper()
	for range 10 {
		if _, err := p.read(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return -1
		}
	}
	p.t.Fatal("relay kept the connection open")
	return 0
}

const testOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"a=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n"

func TestRelayIntroducesPeersAndForwardsSignals(t *testing.T) {
	s := startServer(t, serverOptions{})
	doc := crdt.NewDocID()
	a, peers := s.signal(t, doc, "alice")
	if len(peers) != 0 || a.self != "alice" {
		t.Fatalf("alice alone: self %q peers %v", a.self, peers)
	}
	b, peers := s.signal(t, doc, "bob")
	if !slices.Equal(peers, []string{"alice"}) {
		t.Fatalf("bob sees %v, want [alice]", peers)
	}
	if m := a.next(); m.Type != signaling.TypePeerJoined || m.PeerID != "bob" {
		t.Fatalf("alice got %+v, want bob joined", m)
	}

	// "from" is the relay's to set: a spoofed one is replaced.
	a.send(map[string]any{"type": "offer", "to": "bob", "from": "mallory", "sdp": testOffer})
	if m := b.next(); m.Type != "offer" || m.From != "alice" || m.To != "bob" || m.SDP != testOffer {
		t.Fatalf("bob got %+v", m)
	}
	b.send(map[string]any{"type": "answer", "to": "alice", "sdp": testOffer})
	if m := a.next(); m.Type != "answer" || m.From != "bob" {
		t.Fatalf("alice got %+v", m)
	}
	cand := "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0"
	a.send(map[string]any{"type": "candidate", "to": "bob", "candidate": map[string]any{"candidate": cand, "sdpMid": "0", "sdpMLineIndex": 0}})
	if m := b.next(); m.Type != "candidate" || m.Candidate == nil || m.Candidate.Candidate != cand || *m.Candidate.SDPMid != "0" {
		t.Fatalf("bob got %+v", m)
	}
	a.send(map[string]any{"type": "candidate", "to": "bob", "candidate": map[string]any{"candidate": ""}}) // end of candidates
	if m := b.next(); m.Type != "candidate" || m.Candidate == nil || m.Candidate.Candidate != "" {
		t.Fatalf("bob got %+v", m)
	}

	b.conn.Close()
	if m := a.next(); m.Type != signaling.TypePeerLeft || m.PeerID != "bob" {
		t.Fatalf("alice got %+v, want bob left", m)
	}
	eventually(t, testCtx(t), "bob gone from the room", func() bool { return slices.Equal(s.relay.Peers(doc), []string{"alice"}) })
}

func TestRelayAssignsAPeerIDWhenNoneIsGiven(t *testing.T) {
	s := startServer(t, serverOptions{})
	p, _ := s.signal(t, crdt.NewDocID(), "")
	if !strings.HasPrefix(p.self, "peer-") {
		t.Fatalf("assigned id %q", p.self)
	}
}

func TestRelayReportsBadMessagesAndStaysUp(t *testing.T) {
	s := startServer(t, serverOptions{relay: func(c *signaling.RelayConfig) { c.MaxMessageBytes = 4 << 10 }})
	doc, other := crdt.NewDocID(), crdt.NewDocID()
	a, _ := s.signal(t, doc, "alice")
	b, _ := s.signal(t, doc, "bob")
	a.next() // bob joined
	s.signal(t, other, "carol")

	cases := []struct {
		name string
		send string
		code string
		msg  string
	}{
		{"malformed JSON", `{"type": "offer", `, "malformed_json", "malformed JSON"},
		{"not an object", `["offer"]`, "malformed_json", "cannot unmarshal array"},
		{"no type", `{"to": "bob"}`, "invalid_message", "without type"},
		{"unknown type", `{"type": "hello", "to": "bob"}`, "unknown_type", `"hello"`},
		{"server-only type", `{"type": "peer-joined", "peerId": "x"}`, "unknown_type", "sent by the relay only"},
		{"offer without to", jsonBody(map[string]string{"type": "offer", "sdp": testOffer}), "invalid_message", `without "to"`},
		{"offer without sdp", `{"type": "offer", "to": "bob"}`, "invalid_sdp", `without "sdp"`},
		{"malformed SDP", `{"type": "offer", "to": "bob", "sdp": "v=0\r\nthis is not sdp"}`, "invalid_sdp", "invalid SDP"},
		{"candidate as string", `{"type": "candidate", "to": "bob", "candidate": "x"}`, "malformed_json", "candidate"},
		{"candidate missing", `{"type": "candidate", "to": "bob"}`, "invalid_candidate", "RTCIceCandidateInit"},
		{"bad candidate", `{"type": "candidate", "to": "bob", "candidate": {"candidate": "candidate:1 1 udp"}}`, "invalid_candidate", "invalid ICE candidate"},
		{"peer in another room", jsonBody(map[string]string{"type": "offer", "to": "carol", "sdp": testOffer}), "unknown_peer", `no peer "carol" in this room`},
		{"nobody", jsonBody(map[string]string{"type": "offer", "to": "nobody", "sdp": testOffer}), "unknown_peer", `"nobody"`},
		{"to self", jsonBody(map[string]string{"type": "offer", "to": "alice", "sdp": testOffer}), "invalid_message", "is you"},
		{"too large", `{"type": "offer", "to": "bob", "sdp": "` + strings.Repeat("a", 5<<10) + `"}`, "message_too_large", "limit 4096 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.t = t
			a.sendText(tc.send)
			m := a.next()
			if m.Type != signaling.TypeError || m.Code != tc.code || !strings.Contains(m.Message, tc.msg) {
				t.Fatalf("got %+v, want error %s containing %q", m, tc.code, tc.msg)
			}
		})
	}
	a.t = t
	if err := a.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if m := a.next(); m.Code != "binary_frame" {
		t.Fatalf("binary frame: got %+v", m)
	}
	// Still up: a good message goes through, and nothing bad reached bob.
	a.send(map[string]any{"type": "offer", "to": "bob", "sdp": testOffer})
	if m := b.next(); m.Type != "offer" || m.From != "alice" {
		t.Fatalf("bob got %+v", m)
	}
}

func TestRelayRefusesConnectionsItMustNot(t *testing.T) {
	s := startServer(t, serverOptions{relay: func(c *signaling.RelayConfig) { c.MaxPeersPerRoom = 2 }})
	denied, full, taken := crdt.NewDocID(), crdt.NewDocID(), crdt.NewDocID()
	s.auth.Deny(denied)
	s.signal(t, full, "p1")
	s.signal(t, full, "p2")
	s.signal(t, taken, "alice")
	cases := []struct {
		name, doc, peer, token string
		code, msg              string
		close                  int
	}{
		{"unauthorized room", string(denied), "x", "", "forbidden", "no read access", websocket.ClosePolicyViolation},
		{"revoked token", string(crdt.NewDocID()), "x", "bad", "unauthorized", "token revoked", websocket.ClosePolicyViolation},
		{"invalid document id", "not-a-doc", "x", "", "invalid_document_id", `"not-a-doc"`, websocket.ClosePolicyViolation},
		{"invalid peer id", string(crdt.NewDocID()), "bad peer!", "", "invalid_peer_id", "letters, digits", websocket.ClosePolicyViolation},
		{"peer id in use", string(taken), "alice", "", "peer_id_in_use", `"alice"`, websocket.ClosePolicyViolation},
		{"room full", string(full), "p3", "", "room_full", "limit 2 peers", websocket.CloseTryAgainLater},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, first := s.signalRaw(t, tc.doc, tc.peer, tc.token)
			if first.Type != signaling.TypeError || first.Code != tc.code || !strings.Contains(first.Message, tc.msg) {
				t.Fatalf("got %+v, want error %s containing %q", first, tc.code, tc.msg)
			}
			if code := p.closed(); code != tc.close {
				t.Fatalf("close code %d, want %d", code, tc.close)
			}
		})
	}
	if got := s.relay.Peers(denied); len(got) != 0 {
		t.Fatalf("denied room has peers %v", got)
	}
}

func TestRelayRateLimitsAFloodingPeer(t *testing.T) {
	s := startServer(t, serverOptions{relay: func(c *signaling.RelayConfig) { c.RatePerSec, c.RateBurst = 1, 3 }})
	doc := crdt.NewDocID()
	a, _ := s.signal(t, doc, "alice")
	s.signal(t, doc, "bob")
	a.next() // bob joined
	msg := map[string]any{"type": "candidate", "to": "bob", "candidate": map[string]any{"candidate": ""}}
	for range 4 {
		a.send(msg)
	}
	if m := a.next(); m.Code != "rate_limited" || m.Limit != 1 {
		t.Fatalf("got %+v, want rate_limited", m)
	}
}
