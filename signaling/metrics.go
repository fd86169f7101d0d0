package signaling

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the WebRTC edge's Prometheus collectors, registered on a
// registry the caller owns. A nil *Metrics records nothing. Sessions of
// server peers are also counted by collab's metrics, like any peer.
type Metrics struct {
	PeersOpen      prometheus.Gauge       // server peer connections alive now
	PeersTotal     prometheus.Counter     // offers answered
	PeersFailed    *prometheus.CounterVec // reason: connect_timeout, ice_failed, closed_before_open, bad_channel
	Presence       *prometheus.CounterVec // result: sent, or why a presence frame was dropped
	SignalConns    prometheus.Gauge       // relay connections now
	SignalMessages *prometheus.CounterVec // type: relayed message types
	SignalErrors   *prometheus.CounterVec // code: errors sent by the relay and the offer endpoint
}

// NewMetrics creates the collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		PeersOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "casual_rtc_peers", Help: "WebRTC peer connections to the server open now."}),
		PeersTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casual_rtc_peers_total", Help: "WebRTC peer connections to the server since start (offers answered)."}),
		PeersFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_rtc_peers_failed_total", Help: "WebRTC peer connections that failed, by reason."}, []string{"reason"}),
		Presence: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_rtc_presence_frames_total", Help: "Frames on the unreliable presence channel, by result."}, []string{"result"}),
		SignalConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "casual_signal_connections", Help: "Signaling relay connections now."}),
		SignalMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_signal_messages_total", Help: "Signaling messages relayed, by type."}, []string{"type"}),
		SignalErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_signal_errors_total", Help: "Signaling errors reported to peers, by code."}, []string{"code"}),
	}
	reg.MustRegister(m.PeersOpen, m.PeersTotal, m.PeersFailed, m.Presence, m.SignalConns, m.SignalMessages, m.SignalErrors)
	return m
}

func (m *Metrics) peerOpened() {
	if m != nil {
		m.PeersOpen.Inc()
		m.PeersTotal.Inc()
	}
}

func (m *Metrics) peerClosed() {
	if m != nil {
		m.PeersOpen.Dec()
	}
}

func (m *Metrics) peerFailed(reason string) {
	if m != nil {
		m.PeersFailed.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) presenceSent() {
	if m != nil {
		m.Presence.WithLabelValues("sent").Inc()
	}
}

func (m *Metrics) presenceReceived() {
	if m != nil {
		m.Presence.WithLabelValues("received").Inc()
	}
}

func (m *Metrics) presenceDropped(reason string) {
	if m != nil {
		m.Presence.WithLabelValues("dropped_" + reason).Inc()
	}
}

func (m *Metrics) signalConn(delta float64) {
	if m != nil {
		m.SignalConns.Add(delta)
	}
}

func (m *Metrics) signalRelayed(typ string) {
	if m != nil {
		m.SignalMessages.WithLabelValues(typ).Inc()
	}
}

func (m *Metrics) signalError(code string) {
	if m != nil {
		m.SignalErrors.WithLabelValues(code).Inc()
	}
}
