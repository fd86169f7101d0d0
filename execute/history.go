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
	ID         string     `json:"id"`  // the run id in the document
	App        string     `json:"app"` // the document id
	Handler    string     `json:"handler"`
	Status     string     `json:"status"`
	Input      any        `json:"input,omitempty"`
	Output     any        `json:"output,omitempty"`
	Error      *RunError  `json:"error,omitempty"`
	Logs       []string   `json:"logs,omitempty"`
	By         string     `json:"by,omitempty"`       // who queued it
	Executor   string     `json:"executor,omitempty"` // who ran it
	QueuedAt   time.Time  `json:"queuedAt"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// LeaseUntil: the executor holds the run until then, renewing it
	// while the run is in progress; past it, another executor may take
	// the run over (see Peer).
	LeaseUntil *time.Time `json:"leaseUntil,omitempty"`
	// Attempts counts the times the run was started.
	Attempts int `json:"attempts,omitempty"`
	// Heads are the document's heads (hex) once the change with the run's
	// result was made: the next run of the app waits until its replica
	// has them (see History).
	Heads       []string `json:"heads,omitempty"`
	DurationMs  float64  `json:"durationMs"`
	MemoryBytes int64    `json:"memoryBytes"`
	// Cost is the run's MiB·seconds of memory held (at least 1 MiB): a
	// simple figure for billing and quotas.
	Cost float64 `json:"cost"`
}

// RunError is a failed run's error as stored in the document and history.
type RunError struct {
	Code    string `json:"code"` // Outcome: timeout, memory, output, stack, invalid, executor_lost, error
	Message string `json:"message"`
}

// Finished reports whether the run has ended.
func (r Record) Finished() bool { return r.Status == StatusCompleted || r.Status == StatusFailed }

// History stores executions. Claim is the fence that makes a run execute
// once, and the runs of one app one at a time: executors that share a
// History (one process, or one database across nodes) can never both hold
// the same run, nor two runs of the same app.
//
// A claim is a lease: the executor holds the run until rec.LeaseUntil and
// renews it while the run is in progress. An unfinished run whose lease
// ended may be claimed by another executor; its old holder can then
// neither renew nor finish it.
type History interface {
	// Claim atomically makes rec.Executor the holder of run (rec.App,
	// rec.ID) until rec.LeaseUntil, storing rec, if
	//   - the run has no record, or an unfinished one that no executor
	//     holds, that rec.Executor holds, or whose lease ended before
	//     rec.StartedAt (the claimer's now) — a finished run is never
	//     claimed; and
	//   - no other run of rec.App is held: unfinished, with an executor
	//     and a lease that has not ended at rec.StartedAt.
	// A won claim carries the Heads of the app's last finished run.
	Claim(ctx context.Context, rec Record) (Claim, error)
	// Renew extends executor's lease on an unfinished run it holds to
	// until, and reports whether it still held the run.
	Renew(ctx context.Context, app, id, executor string, until time.Time) (bool, error)
	// Finish stores the finished rec if rec.Executor still holds the run
	// (or the run has no record), and reports whether it did. rec.Heads
	// become the app's last heads.
	Finish(ctx context.Context, rec Record) (bool, error)
	// Put creates or replaces the record of (rec.App, rec.ID).
	Put(ctx context.Context, rec Record) error
	// Get returns the record with run id id (if several apps have a run
	// with that id, the one written last), or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, id string) (Record, error)
	// List returns an app's records, newest first, at most limit.
	List(ctx context.Context, app string, limit int) ([]Record, error)
	Close() error
}

// Claim is what History.Claim decided.
type Claim struct {
	// Won: the claimer holds the run now.
	Won bool
	// After (when won) are the heads the app's last finished run left in
	// the document: the winner runs the handler only once its replica has
	// them, so that it sees the state every earlier run wrote.
	After []string
	// HeldUntil (when lost) is when the lease that stood in the way ends,
	// this run's or another run's of the app; zero if the run is finished.
	HeldUntil time.Time
}

// appRuns is what a History keeps per app for Claim: the runs held and the
// last finished run's heads.
type appRuns struct {
	Held  map[string]time.Time `json:"held,omitempty"` // run id: lease end
	Heads []string             `json:"heads,omitempty"`
}

// heldBy reports whether rec holds its run: unfinished, with an executor
// and a lease.
func heldBy(rec Record) bool {
	return !rec.Finished() && rec.Executor != "" && rec.LeaseUntil != nil
}

// note updates a with rec, just stored; finished says whether rec was
// stored by a Finish (its heads then become the app's).
func (a *appRuns) note(rec Record, finished bool) {
	if heldBy(rec) {
		if a.Held == nil {
			a.Held = map[string]time.Time{}
		}
		a.Held[rec.ID] = *rec.LeaseUntil
	} else {
		delete(a.Held, rec.ID)
	}
	if finished && len(rec.Heads) > 0 {
		a.Heads = rec.Heads
	}
}

// blocked reports whether another run of the app than rec's is held at
// rec's now, and until when.
func (a *appRuns) blocked(rec Record) (time.Time, bool) {
	now := claimNow(rec)
	var until time.Time
	for id, lease := range a.Held {
		if id != rec.ID && !lease.Before(now) && lease.After(until) {
			until = lease
		}
	}
	return until, !until.IsZero()
}

// claimNow is the claimer's now: rec.StartedAt, else the clock.
func claimNow(rec Record) time.Time {
	if rec.StartedAt != nil {
		return *rec.StartedAt
	}
	return time.Now()
}

// decide is Claim for histories that hold old (the run's record, nil if
// none) and a (its app's runs) under one lock.
func decide(old *Record, a *appRuns, rec Record) Claim {
	if !claimable(old, rec) {
		c := Claim{}
		if old != nil && old.LeaseUntil != nil && !old.Finished() {
			c.HeldUntil = *old.LeaseUntil
		}
		return c
	}
	if until, ok := a.blocked(rec); ok {
		return Claim{HeldUntil: until}
	}
	return Claim{Won: true, After: a.Heads}
}

// claimable reports whether rec may claim a run whose record is old (nil:
// none), as History.Claim defines.
func claimable(old *Record, rec Record) bool {
	switch {
	case old == nil:
		return true
	case old.Finished():
		return false
	case old.Executor == "" || old.Executor == rec.Executor:
		return true
	}
	now := claimNow(rec)
	// A record without a lease predates leases: nobody renews it.
	return old.LeaseUntil == nil || old.LeaseUntil.Before(now)
}

// holds reports whether executor holds the run whose record is old.
func holds(old *Record, executor string) bool {
	return old != nil && !old.Finished() && old.Executor == executor
}

// MemHistory is a History in memory, keeping the newest PerApp records of
// each app.
type MemHistory struct {
	PerApp int

	mu    sync.Mutex
	apps  map[string][]*Record // oldest first
	byKey map[string]*Record   // app \x00 id
	byID  map[string]*Record   // the newest run with that id
	runs  map[string]*appRuns  // by app
}

// NewMemHistory returns an empty history keeping perApp records per app
// (default 1000).
func NewMemHistory(perApp int) *MemHistory {
	if perApp <= 0 {
		perApp = 1000
	}
	return &MemHistory{PerApp: perApp, apps: map[string][]*Record{}, byKey: map[string]*Record{}, byID: map[string]*Record{},
		runs: map[string]*appRuns{}}
}

// Claim implements History.
func (m *MemHistory) Claim(_ context.Context, rec Record) (Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.find(rec.App, rec.ID)
	c := decide(old, m.appRuns(rec.App), rec)
	if c.Won {
		m.storeLocked(old, rec, false)
	}
	return c, nil
}

// Renew implements History.
func (m *MemHistory) Renew(_ context.Context, app, id, executor string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.find(app, id)
	if !holds(old, executor) {
		return false, nil
	}
	rec := *old
	rec.LeaseUntil = &until
	m.storeLocked(old, rec, false)
	return true, nil
}

// Finish implements History.
func (m *MemHistory) Finish(_ context.Context, rec Record) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.find(rec.App, rec.ID)
	if old != nil && !holds(old, rec.Executor) {
		return false, nil
	}
	m.storeLocked(old, rec, true)
	return true, nil
}

func (m *MemHistory) appRuns(app string) *appRuns {
	a := m.runs[app]
	if a == nil {
		a = &appRuns{}
		m.runs[app] = a
	}
	return a
}

// storeLocked replaces old (nil: inserts) with rec.
func (m *MemHistory) storeLocked(old *Record, rec Record, finished bool) {
	if old != nil {
		*old = rec
	} else {
		m.insertLocked(rec)
	}
	m.appRuns(rec.App).note(rec, finished)
}

func (m *MemHistory) find(app, id string) *Record { return m.byKey[app+"\x00"+id] }

// Put implements History.
func (m *MemHistory) Put(_ context.Context, rec Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.storeLocked(m.find(rec.App, rec.ID), rec, false)
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
		delete(m.byKey, drop.App+"\x00"+drop.ID)
		list = list[1:]
	}
	m.apps[rec.App] = list
	m.byID[rec.ID] = r
	m.byKey[rec.App+"\x00"+rec.ID] = r
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
