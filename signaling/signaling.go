// Package signaling is Casual's WebRTC edge. It owns two things:
//
//   - the Relay, an authorized WebSocket endpoint where the peers of one
//     room (document) learn who else is there and exchange offers, answers
//     and ICE candidates addressed to each other, so browsers can open
//     direct data channels between themselves;
//   - the Gateway, which terminates peer connections on the server with
//     pion: a reliable, ordered data channel "automerge" carries the
//     automerge-repo protocol and an unreliable, unordered channel
//     "presence" carries ephemeral messages. Each such peer is served by
//     collab.Server.Serve over a Conn, so it joins rooms exactly like a
//     WebSocket peer: same fan-out, authorization, limits and metrics.
//
// DialServer is the client side of the Gateway, for Go peers (tests, the
// load generator). The message formats are documented in README.md.
package signaling

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"
)

// Data channel labels of a server peer connection.
const (
	// LabelAutomerge is the reliable, ordered channel of protocol frames.
	LabelAutomerge = "automerge"
	// LabelPresence is the unordered channel without retransmits that
	// carries ephemeral messages: a lost cursor move is superseded by the
	// next one anyway.
	LabelPresence = "presence"
)

// ICEServer is one STUN or TURN server, in the shape of the browser's
// RTCIceServer so /rtc/config can be handed to new RTCPeerConnection as is.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

func pionICEServers(in []ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(in))
	for _, s := range in {
		out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

// netConfig is what a pion API needs to know about the network.
type netConfig struct {
	// NAT1To1IPs are public addresses announced for the host candidates
	// of a server behind 1:1 NAT (a cloud VM), so clients need no STUN.
	NAT1To1IPs []string
	// PortMin and PortMax bound the UDP ports used (firewall rules); zero
	// means any ephemeral port.
	PortMin, PortMax uint16
	// FailedTimeout is how long a connection without connectivity lasts.
	FailedTimeout time.Duration
	// MaxMessageBytes is the largest data channel message accepted.
	MaxMessageBytes uint32
	Logger          *slog.Logger
	// Net replaces the operating system's network (tests); nil is the OS.
	Net transport.Net
}

// newAPI returns a pion API for data channels only. Loopback host
// candidates are included and mDNS is off, so two processes on one
// machine connect with no ICE server configured; UDP4 only keeps candidate
// gathering short and predictable.
func newAPI(cfg netConfig) (*webrtc.API, error) {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetSCTPMaxMessageSize(cfg.MaxMessageBytes)
	disconnected := min(5*time.Second, cfg.FailedTimeout/2)
	se.SetICETimeouts(disconnected, cfg.FailedTimeout, 2*time.Second)
	if len(cfg.NAT1To1IPs) > 0 {
		//lint:ignore SA1019 the replacement's behaviour for host candidates is the same; kept while pion is pinned at v4.2.20
		se.SetNAT1To1IPs(cfg.NAT1To1IPs, webrtc.ICECandidateTypeHost)
	}
	if cfg.PortMin != 0 || cfg.PortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.PortMin, cfg.PortMax); err != nil {
			return nil, fmt.Errorf("udp port range %d-%d: %w", cfg.PortMin, cfg.PortMax, err)
		}
	}
	if cfg.Net != nil {
		se.SetNet(cfg.Net)
	}
	se.LoggerFactory = slogFactory{cfg.Logger}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se)), nil
}

// slogFactory sends pion's logs to slog one level down: pion logs routine
// ICE events of a healthy connection as warnings ("no such remote" for a
// peer-reflexive candidate) and reserves errors for real trouble.
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.With(slog.String("pion", scope))}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) logf(lvl slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), lvl) {
		l.log.Log(context.Background(), lvl, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(msg string)                  {}
func (l pionLogger) Tracef(format string, args ...any) {}
func (l pionLogger) Debug(msg string)                  { l.logf(slog.LevelDebug-4, "%s", msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.logf(slog.LevelDebug-4, format, args...) }
func (l pionLogger) Info(msg string)                   { l.logf(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l pionLogger) Warn(msg string)                   { l.logf(slog.LevelDebug, "%s", msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l pionLogger) Error(msg string)                  { l.logf(slog.LevelWarn, "%s", msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.logf(slog.LevelWarn, format, args...) }
