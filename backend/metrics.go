package backend

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"tillpay/backend/api"
)

type metrics struct {
	payments   *prometheus.CounterVec
	paid       prometheus.Counter // payments with status paid, the common case
	latency    *prometheus.HistogramVec
	groupSize  prometheus.Histogram
	commitTime prometheus.Histogram
	notified   *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tillpay_payments_total",
			Help: "Payments decided, by status and reason.",
		}, []string{"status", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tillpay_request_duration_seconds",
			Help:    "Time to answer a request, by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"endpoint"}),
		groupSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tillpay_commit_group_size",
			Help:    "Operations committed together in one transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tillpay_commit_duration_seconds",
			Help:    "Time to run and commit one group of writes.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
		notified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tillpay_notifications_total",
			Help: "Notifications delivered, by sink and result.",
		}, []string{"sink", "result"}),
	}
	m.paid = m.payments.WithLabelValues(api.StatusPaid, "")
	for _, c := range []prometheus.Collector{m.payments, m.latency, m.groupSize, m.commitTime, m.notified,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}

// countPayment counts a payment decided with status and reason.
func (m *metrics) countPayment(status, reason string) {
	if status == api.StatusPaid && reason == "" {
		m.paid.Inc()
		return
	}
	m.payments.WithLabelValues(status, reason).Inc()
}

func (m *metrics) observeCommit(ops int, d time.Duration) {
	m.groupSize.Observe(float64(ops))
	m.commitTime.Observe(d.Seconds())
}
