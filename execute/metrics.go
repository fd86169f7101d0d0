package execute

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus collectors. Registered only when
// Config.Registerer is set; otherwise they count into the void.
type metrics struct {
	queue     prometheus.Gauge
	instances prometheus.Gauge
	kills     *prometheus.CounterVec
	runs      *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		queue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "casual_execute_queue_depth",
			Help: "Runs waiting for an execution slot."}),
		instances: prometheus.NewGauge(prometheus.GaugeOpts{Name: "casual_execute_instances",
			Help: "Live QuickJS instances (idle and busy)."}),
		kills: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "casual_execute_instance_kills_total",
			Help: "Instances closed because a run broke a limit or crashed them, by reason (see Outcome)."},
			[]string{"reason"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "casual_execute_runs_total",
			Help: "Runs by language and outcome (ok, error, timeout, memory, output, stack, invalid)."},
			[]string{"lang", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "casual_execute_run_seconds",
			Help:    "Running time of a run, without queueing.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"lang"}),
	}
	if reg != nil {
		reg.MustRegister(m.queue, m.instances, m.kills, m.runs, m.latency)
	}
	return m
}

func (m *metrics) observe(lang string, d time.Duration, err error) {
	m.latency.WithLabelValues(lang).Observe(d.Seconds())
	m.runs.WithLabelValues(lang, Outcome(err)).Inc()
}

// Outcome names how a run ended, for metrics and the history: "ok",
// "timeout", "memory", "output", "stack", "invalid" or "error".
func Outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrMemory):
		return "memory"
	case errors.Is(err, ErrOutputTooLarge):
		return "output"
	case errors.Is(err, ErrStackOverflow):
		return "stack"
	case errors.Is(err, ErrInvalidHandler):
		return "invalid"
	case errors.Is(err, ErrExecutorLost):
		return "executor_lost"
	}
	return "error"
}
