package collab

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the server's Prometheus collectors, registered on a registry
// the caller owns (no global state).
type Metrics struct {
	Connections    prometheus.Gauge
	ConnectionsAll prometheus.Counter
	Messages       *prometheus.CounterVec // direction, type
	Bytes          *prometheus.CounterVec // direction, type
	Errors         *prometheus.CounterVec // kind
	Persist        prometheus.Histogram
	Compact        prometheus.Histogram
	Dropped        *prometheus.CounterVec // reason
	FanOut         *prometheus.CounterVec // path: shared, core
}

// NewMetrics creates and registers the collectors; rooms reports the number
// of loaded rooms when scraped.
func NewMetrics(reg prometheus.Registerer, rooms func() int) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "casual_connections", Help: "Peers connected now."}),
		ConnectionsAll: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "casual_connections_total", Help: "Peers connected since start."}),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_messages_total", Help: "Protocol messages by direction (in/out) and type."},
			[]string{"direction", "type"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_message_bytes_total", Help: "Protocol bytes by direction (in/out) and type."},
			[]string{"direction", "type"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_errors_total", Help: "Errors sent to peers, by kind."}, []string{"kind"}),
		Persist: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "casual_persist_seconds", Help: "Time to durably store a room's changes.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		Compact: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "casual_compact_seconds", Help: "Time to compact a document into a snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_peers_dropped_total", Help: "Peers removed from rooms, by reason."}, []string{"reason"}),
		FanOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "casual_fanout_messages_total",
			Help: "Sync messages sent to peers after a round's changes: path shared (one message built for every in-sync peer) or core (generated per peer)."},
			[]string{"path"}),
	}
	reg.MustRegister(m.Connections, m.ConnectionsAll, m.Messages, m.Bytes, m.Errors, m.Persist, m.Compact, m.Dropped, m.FanOut,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "casual_rooms_loaded", Help: "Documents loaded in rooms now."},
			func() float64 { return float64(rooms()) }))
	return m
}
