package signaling_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/signaling"
)

func TestWebRTCPeerConvergesWithWebSocketPeer(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := testCtx(t)
	rtc, _ := s.connectRTC(t)
	ws := s.connectWS(t)

	hr, err := rtc.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := hr.Change(ctx, "title", setKey("title", "Todo")); err != nil {
		t.Fatal(err)
	}
	if err := hr.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	hw, err := ws.Find(ctx, hr.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := hw.WaitFor(ctx, hasKey("title", "Todo")); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := hr.Change(ctx, "", setKey(fmt.Sprintf("r%d", i), int64(i))); err != nil {
			t.Fatal(err)
		}
		if err := hw.Change(ctx, "", setKey(fmt.Sprintf("w%d", i), int64(i))); err != nil {
			t.Fatal(err)
		}
		hr.Change(ctx, "", setKey("same", "rtc"))
		hw.Change(ctx, "", setKey("same", "ws"))
	}
	both := func(d *crdt.Doc) bool { return hasKey("r19", int64(19))(d) && hasKey("w19", int64(19))(d) }
	for _, h := range []*client.Handle{hr, hw} {
		if err := h.WaitFor(ctx, both); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, ctx, "same heads", func() bool { return fmt.Sprint(hr.Heads()) == fmt.Sprint(hw.Heads()) })
	var a, b any
	hr.Read(func(d *crdt.Doc) { a, _ = d.Get("same") })
	hw.Read(func(d *crdt.Doc) { b, _ = d.Get("same") })
	if a != b {
		t.Fatalf("diverged: %v vs %v", a, b)
	}
	if got := s.metric(t, "casual_rtc_peers"); got != 1 {
		t.Errorf("casual_rtc_peers = %v, want 1", got)
	}
	if got := s.metric(t, "casual_connections"); got != 2 {
		t.Errorf("casual_connections = %v, want 2 (WebRTC peers count like WebSocket peers)", got)
	}
}

func TestPresenceTakesTheUnreliableChannelBothWays(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := testCtx(t)
	rtc, conn := s.connectRTC(t)
	ws := s.connectWS(t)
	if !conn.PresenceOpen() {
		t.Fatal("presence channel not open after DialServer")
	}
	hr, _ := rtc.Create(ctx)
	hr.Change(ctx, "", setKey("k", "v"))
	hr.WaitAcked(ctx)
	hw, err := ws.Find(ctx, hr.ID())
	if err != nil {
		t.Fatal(err)
	}

	cursor := []byte{0xa1, 0x66, 'c', 'u', 'r', 's', 'o', 'r', 0x07} // {cursor: 7}
	if err := hr.Broadcast(ctx, cursor); err != nil {
		t.Fatal(err)
	}
	got := recvEphemeral(t, ctx, hw)
	if got.SenderID != rtc.PeerID() || !bytes.Equal(got.Data, cursor) {
		t.Fatalf("WebSocket peer got %+v", got)
	}
	if n := s.metric(t, "casual_rtc_presence_frames_total", "result", "received"); n < 1 {
		t.Errorf("server received %v frames on the presence channel, want ≥ 1", n)
	}

	// The server's end of the presence channel may open a moment after the
	// client's: until then its frames take the reliable channel. So the
	// other way is tried a few times.
	for i := 0; ; i++ {
		if err := hw.Broadcast(ctx, cursor); err != nil {
			t.Fatal(err)
		}
		got = recvEphemeral(t, ctx, hr)
		if got.SenderID != ws.PeerID() {
			t.Fatalf("WebRTC peer got %+v", got)
		}
		n := s.metric(t, "casual_rtc_presence_frames_total", "result", "sent")
		if n >= 1 {
			break
		}
		if i == 20 {
			t.Fatalf("server sent %v frames on the presence channel, want ≥ 1", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The room records the WebRTC peer's presence like anyone's.
	entries, err := s.rooms.Lookup(hr.ID()).Presence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !hasPeer(entries, rtc.PeerID()) {
		t.Fatalf("room presence %v lacks the WebRTC peer", entries)
	}
}

func TestPresenceChannelCarriesOnlyEphemeralMessages(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := testCtx(t)
	rtc, conn := s.connectRTC(t)
	h, _ := rtc.Create(ctx)
	h.Change(ctx, "", setKey("k", "v"))
	h.WaitAcked(ctx)
	// A sync message on the unordered channel could overtake its
	// predecessors and break sync: the server drops it.
	frame, err := wire.Encode(&wire.Message{Type: wire.TypeRequest, SenderID: rtc.PeerID(), TargetID: rtc.ServerPeerID(),
		DocumentID: string(crdt.NewDocID()), Data: []byte{0x42, 0, 0, 1, 0, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.PresenceChannel().Send(frame); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the frame to be dropped", func() bool {
		return s.metric(t, "casual_rtc_presence_frames_total", "result", "dropped_in_not_ephemeral") == 1
	})
	select {
	case e := <-rtc.Errors():
		t.Fatalf("server handled the frame: %s %s", e.Code, e.Message)
	default:
	}
}

func recvEphemeral(t *testing.T, ctx context.Context, h *client.Handle) client.Ephemeral {
	t.Helper()
	select {
	case e := <-h.Ephemeral():
		return e
	case <-ctx.Done():
		t.Fatal("no ephemeral message")
	}
	return client.Ephemeral{}
}

func TestLargeFramesTravelInFragments(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := testCtx(t)
	a, _ := s.connectRTC(t)
	b, _ := s.connectRTC(t)
	big := strings.Repeat("0123456789abcdef", 40<<10) // 640 KiB: ten 64 KiB fragments
	ha, _ := a.Create(ctx)
	if err := ha.Change(ctx, "big", setKey("big", big)); err != nil {
		t.Fatal(err)
	}
	if err := ha.WaitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	hb, err := b.Find(ctx, ha.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.WaitFor(ctx, hasKey("big", big)); err != nil {
		t.Fatal(err)
	}
}

func TestOversizedFrameOverWebRTCIsRefused(t *testing.T) {
	s := startServer(t, serverOptions{collab: func(c *collab.Config) { c.MaxFrameBytes = 100 << 10 }})
	ctx := testCtx(t)
	a, _ := s.connectRTC(t)
	ha, _ := a.Create(ctx)
	ha.Change(ctx, "big", setKey("big", strings.Repeat("x", 200<<10)))
	select {
	case e := <-a.Errors():
		if e.Code != "frame_too_large" || e.Limit != 100<<10 {
			t.Fatalf("error %s (%s) limit %v, want frame_too_large with the limit", e.Code, e.Message, e.Limit)
		}
	case <-ctx.Done():
		t.Fatal("no error")
	}
	<-a.Done() // and the session ends, as over WebSocket
}

func TestOfferEndpointRefusesBadInput(t *testing.T) {
	s := startServer(t, serverOptions{})
	noDataChannel := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
	cases := []struct {
		name   string
		body   string
		status int
		code   string
		msg    string
	}{
		{"malformed JSON", `{"sdp": `, 400, "malformed_json", "body must be JSON"},
		{"empty offer", `{"sdp": ""}`, 400, "invalid_sdp", "empty offer"},
		{"garbage SDP", `{"sdp": "hello"}`, 400, "invalid_sdp", "invalid SDP"},
		{"no data channel", jsonBody(map[string]string{"sdp": noDataChannel}), 400, "invalid_sdp", "m=application"},
		{"answer instead of offer", `{"type": "answer", "sdp": "v=0"}`, 400, "invalid_message", `"answer"`},
		{"too large", `{"sdp": "` + strings.Repeat("a", 70<<10) + `"}`, 413, "offer_too_large", "65536"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, code, msg := postOffer(t, s.http+"/rtc/offer", tc.body)
			if status != tc.status || code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got %d %s %q, want %d %s containing %q", status, code, msg, tc.status, tc.code, tc.msg)
			}
		})
	}
}

func TestOfferWithRevokedTokenIsUnauthorized(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := testCtx(t)
	_, err := signaling.DialServer(ctx, s.http, "bad")
	var refused *signaling.OfferError
	if !errors.As(err, &refused) || refused.Status != 401 || refused.Code != "unauthorized" ||
		!strings.Contains(refused.Message, "token revoked") {
		t.Fatalf("dial with a revoked token: %v", err)
	}
	if got := s.gw.Peers(); got != 0 {
		t.Fatalf("%d peer connections kept for a refused offer", got)
	}
}

func TestRTCConfigServesICEServers(t *testing.T) {
	ice := []signaling.ICEServer{{URLs: []string{"stun:stun.example.org:3478"}},
		{URLs: []string{"turn:turn.example.org:3478"}, Username: "u", Credential: "p"}}
	s := startServer(t, serverOptions{gateway: func(c *signaling.GatewayConfig) { c.ICEServers = ice }})
	resp, err := http.Get(s.http + "/rtc/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rc signaling.RTCConfig
	if err := json.NewDecoder(resp.Body).Decode(&rc); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rc.ICEServers) != fmt.Sprint(ice) || rc.Offer != "/rtc/offer" {
		t.Fatalf("config %+v", rc)
	}
}

func TestTeardownLeavesNoGoroutines(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := testCtx(t)
	ws := s.connectWS(t)
	hw, _ := ws.Create(ctx)
	hw.Change(ctx, "", setKey("k", "v"))
	hw.WaitAcked(ctx)
	// Warm up: the first connection starts long-lived runtime goroutines.
	warm, _ := s.connectRTC(t)
	warm.Close()
	eventually(t, ctx, "warm-up peer gone", func() bool { return s.gw.Peers() == 0 })
	before := settledGoroutines(ctx)

	conn, err := signaling.DialServer(ctx, s.http, "")
	if err != nil {
		t.Fatal(err)
	}
	rtc, err := client.New(ctx, conn, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hr, err := rtc.Find(ctx, hw.ID())
	if err != nil {
		t.Fatal(err)
	}
	hr.Broadcast(ctx, []byte{0xa1, 0x61, 'x', 0x01})
	recvEphemeral(t, ctx, hw)
	room := s.rooms.Lookup(hw.ID())
	if p, _ := room.Presence(ctx); !hasPeer(p, rtc.PeerID()) {
		t.Fatalf("room presence %v lacks the WebRTC peer", p)
	}

	rtc.Close() // closes the peer connection
	eventually(t, ctx, "the room to see the peer leave", func() bool {
		p, err := room.Presence(ctx)
		return err == nil && !hasPeer(p, rtc.PeerID())
	})
	eventually(t, ctx, "the gateway to release the peer", func() bool { return s.gw.Peers() == 0 })
	if got := s.metric(t, "casual_rtc_peers"); got != 0 {
		t.Errorf("casual_rtc_peers = %v after teardown", got)
	}
	if got := s.cs.Connections(); got != 1 {
		t.Errorf("%d sessions, want only the WebSocket one", got)
	}
	var after int
	eventually(t, ctx, "goroutines to return to the baseline", func() bool {
		after = runtime.NumGoroutine()
		return after <= before
	})
	t.Logf("goroutines: %d before, %d after", before, after)
}

// settledGoroutines returns the goroutine count once it stops moving.
func settledGoroutines(ctx context.Context) int {
	n := runtime.NumGoroutine()
	for stable := 0; stable < 10 && ctx.Err() == nil; {
		time.Sleep(20 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			stable++
		} else {
			n, stable = m, 0
		}
	}
	return n
}

func hasPeer(entries []rooms.PresenceEntry, id string) bool {
	for _, e := range entries {
		if e.PeerID == id {
			return true
		}
	}
	return false
}

func postOffer(t *testing.T, url, body string) (int, string, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Code, e.Error.Message
}

func jsonBody(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
