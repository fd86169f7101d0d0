package execute

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Run statuses, in the document and the history.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Record is one execution in the history: what the API lists and returns.
type Record struct {
	ID          string     `json:"id"`  // the run id in the document
	App         string     `json:"app"` // the document id
	Handler     string     `json:"handler"`
	Status      string     `json:"status"`
	Input       any        `json:"input,omitempty"`
	Output      any        `json:"output,omitempty"`
	Error       *RunError  `json:"error,omitempty"`
	Logs        []string   `json:"logs,omitempty"`
	By          string     `json:"by,omitempty"`       // who queued it
	Executor    string     `json:"executor,omitempty"` // who ran it
	QueuedAt    time.Time  `json:"queuedAt"`
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	FinishedAt  *time.Time `json:"finishedAt,omitempty"`
	DurationMs  float64    `json:"durationMs"`
	MemoryBytes int64      `json:"memoryBytes"`
	// Cost is the run's MiB·seconds of memory held (at least 1 MiB): a
	// simple figure for billing and quotas.
	Cost float64 `json:"cost"`
}

// RunError is a failed run's error as stored in the document and history.
type RunError struct {
	Code    string `json:"code"` // Outcome: timeout, memory, output, stack, invalid, error
	Message string `json:"message"`
}

// Finished reports whether the run has ended.
func (r Record) Finished() bool { return r.Status == StatusCompleted || r.Status == StatusFailed }

// History stores executions. Claim is the fence that makes a run execute
// once: executors that share a History (one process, or one database
// across nodes) can never both claim the same run.
type History interface {
	// Claim atomically records that rec.Executor runs rec (App, ID), unless
	// a different executor already claimed it; it reports whether the
	// caller may run it.
	Claim(ctx context.Context, rec Record) (bool, error)
	// Put creates or replaces the record of (rec.App, rec.ID).
	Put(ctx context.Context, rec Record) error
	// Get returns the record with run id id, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, id string) (Record, error)
	// List returns an app's records, newest first, at most limit.
	List(ctx context.Context, app string, limit int) ([]Record, error)
	Close() error
}

// MemHistory is a History in memory, keeping the newest PerApp records of
// each app.
type MemHistory struct {
	PerApp int

	mu   sync.Mutex
	apps map[string][]*Record // oldest first
	byID map[string]*Record
}

// NewMemHistory returns an empty history keeping perApp records per app
// (default 1000).
func NewMemHistory(perApp int) *MemHistory {
	if perApp <= 0 {
		perApp = 1000
	}
	return &MemHistory{PerApp: perApp, apps: map[string][]*Record{}, byID: map[string]*Record{}}
}

// Claim implements History.
func (m *MemHistory) Claim(_ context.Context, rec Record) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.byID[rec.ID]; old != nil && old.App == rec.App {
		if old.Executor != "" && old.Executor != rec.Executor {
			return false, nil
		}
		*old = rec
		return true, nil
	}
	m.insertLocked(rec)
	return true, nil
}

// Put implements History.
func (m *MemHistory) Put(_ context.Context, rec Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.byID[rec.ID]; old != nil && old.App == rec.App {
		*old = rec
		return nil
	}
	m.insertLocked(rec)
	return nil
}

func (m *MemHistory) insertLocked(rec Record) {
	r := &rec
	list := append(m.apps[rec.App], r)
	if len(list) > m.PerApp {
		drop := list[0]
		if m.byID[drop.ID] == drop {
			delete(m.byID, drop.ID)
		}
		list = list[1:]
	}
	m.apps[rec.App] = list
	m.byID[rec.ID] = r
}

// Get implements History.
func (m *MemHistory) Get(_ context.Context, id string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.byID[id]
	if r == nil {
		return Record{}, fmt.Errorf("execution %s: %w", truncate(id, 80), ErrNotFound)
	}
	return *r, nil
}

// List implements History.
func (m *MemHistory) List(_ context.Context, app string, limit int) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := m.apps[app]
	out := make([]Record, 0, min(limit, len(list)))
	for i := len(list) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, *list[i])
	}
	// Insertion order is queue order; break ties of equal times stably.
	slices.SortStableFunc(out, func(a, b Record) int { return cmp.Compare(b.QueuedAt.UnixNano(), a.QueuedAt.UnixNano()) })
	return out, nil
}

// Close implements History.
func (m *MemHistory) Close() error { return nil }
