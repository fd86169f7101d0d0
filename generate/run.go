package generate

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Status is where a run is in its life.
type Status string

// The statuses of a run. Done, cancelled and failed are final.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusDone      Status = "done"
	StatusCancelled Status = "cancelled"
	StatusFailed    Status = "failed"
)

// Final reports whether the run has ended.
func (s Status) Final() bool {
	return s == StatusDone || s == StatusCancelled || s == StatusFailed
}

// Mode says where a run writes.
type Mode string

// The modes of a run.
const (
	// ModeLive applies every operation to the shared document at once.
	ModeLive Mode = "live"
	// ModeSuggest applies them to a fork that is merged on accept.
	ModeSuggest Mode = "suggest"
)

// Suggestion states.
const (
	SuggestionPending  = "pending"
	SuggestionAccepted = "accepted"
	SuggestionRejected = "rejected"
)

// Run is one generation: what was asked, what it did, what it cost.
type Run struct {
	ID        string   `json:"id"`
	AppID     string   `json:"appId"`
	Kind      Kind     `json:"kind"`
	Mode      Mode     `json:"mode"`
	Status    Status   `json:"status"`
	Prompt    string   `json:"prompt"`
	Selection []string `json:"selection,omitempty"`
	Model     string   `json:"model"`
	By        string   `json:"by,omitempty"`     // who asked
	Node      string   `json:"node,omitempty"`   // the generator that ran it (Options.Node)
	NewApp    bool     `json:"newApp,omitempty"` // the run created AppID
	// Cursor is the component the run last worked on.
	Cursor string `json:"cursor,omitempty"`

	Applied    []AppliedOp `json:"applied"`
	Skipped    []SkippedOp `json:"skipped"`
	OpsApplied int         `json:"opsApplied"`
	OpsSkipped int         `json:"opsSkipped"`

	TokensIn        int     `json:"tokensIn"`
	TokensOut       int     `json:"tokensOut"`
	TokensEstimated bool    `json:"tokensEstimated"` // no usage in the stream: counted as bytes/4
	CostUSD         float64 `json:"costUsd"`
	Retries         int     `json:"retries,omitempty"`

	Error      *RunError   `json:"error,omitempty"`
	Suggestion *Suggestion `json:"suggestion,omitempty"` // suggest mode only
	Reverted   bool        `json:"reverted,omitempty"`

	CreatedAt  time.Time `json:"createdAt"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// AppliedOp is an operation the run applied.
type AppliedOp struct {
	Line   int    `json:"line"` // 1-based among the stream's operations (JSON lines and tool calls)
	Op     string `json:"op"`
	Target string `json:"target,omitempty"` // component, page or handler id
}

// SkippedOp is an operation (or part of one) the run did not apply.
type SkippedOp struct {
	Line   int    `json:"line"`
	Op     string `json:"op,omitempty"`
	Target string `json:"target,omitempty"`
	Code   string `json:"code"` // see the skip* constants
	Reason string `json:"reason"`
	Text   string `json:"text,omitempty"` // the line, shortened
}

// Skip codes.
const (
	SkipParse            = "parse"             // not a well-formed operation (broken JSON, unknown op, missing id)
	SkipInvalid          = "invalid"           // refused by the schema: unknown type, bad prop, bad position...
	SkipUnknownTarget    = "unknown_target"    // names a component, page or handler that never existed
	SkipDeletedMeanwhile = "deleted_meanwhile" // its component was deleted by someone during the run
	SkipKeptHumanEdit    = "kept_human_edit"   // someone changed this value during the run; theirs is kept
	SkipLimit            = "limit"             // past Config.MaxOps
)

// RunError says why a run failed.
type RunError struct {
	Code    string `json:"code"` // as in HTTP error bodies (auth, unknown_model, timeout...)
	Message string `json:"message"`
}

// Suggestion is the pending result of a suggest-mode run.
type Suggestion struct {
	State string `json:"state"` // pending, accepted or rejected
	Diff  Diff   `json:"diff"`
}

// Diff lists the components a suggestion adds, removes and changes,
// against the document when the run started.
type Diff struct {
	Added   []DiffEntry `json:"added"`
	Removed []DiffEntry `json:"removed"`
	Changed []DiffEntry `json:"changed"`
}

// DiffEntry is one component of a Diff.
type DiffEntry struct {
	ID     string   `json:"id"`
	Type   string   `json:"type"`
	Page   string   `json:"page"`
	Fields []string `json:"fields,omitempty"` // changed: props.label, layout.gap, pos, bindings.value...
}

func (r Run) clone() Run {
	r.Selection = slices.Clone(r.Selection)
	r.Applied = slices.Clone(r.Applied)
	r.Skipped = slices.Clone(r.Skipped)
	if r.Error != nil {
		e := *r.Error
		r.Error = &e
	}
	if r.Suggestion != nil {
		s := *r.Suggestion
		s.Diff = Diff{Added: slices.Clone(s.Diff.Added), Removed: slices.Clone(s.Diff.Removed), Changed: slices.Clone(s.Diff.Changed)}
		r.Suggestion = &s
	}
	return r
}

// RunStore keeps the history of runs. Implementations must be safe for
// concurrent use. The generator Puts a run when it is queued, when its
// status changes and when it ends; runs in progress are read from memory.
type RunStore interface {
	// Put creates or replaces a run.
	Put(ctx context.Context, r Run) error
	// Get returns a run, or ErrRunNotFound.
	Get(ctx context.Context, id string) (Run, error)
	// List returns the runs of an app ("" for all), newest first, at most
	// limit of them (0: no limit).
	List(ctx context.Context, appID string, limit int) ([]Run, error)
	// Interrupt marks node's runs that are still queued or running as
	// failed with e, finished at at, and returns their ids. A generator
	// calls it when it starts: such runs belonged to a process that
	// stopped without finishing them, and would otherwise stay "running"
	// forever.
	Interrupt(ctx context.Context, node string, e RunError, at time.Time) ([]string, error)
}

// Interrupt is what RunStore.Interrupt does to one run; every store uses
// it so they agree.
func (r *Run) Interrupt(e RunError, at time.Time) {
	r.Status = StatusFailed
	r.Error = &e
	r.FinishedAt = at
	r.Cursor = ""
}

// interrupted reports whether Interrupt applies to r.
func interrupted(r Run, node string) bool {
	return r.Node == node && !r.Status.Final()
}

// MemoryStore is a RunStore in memory that keeps the newest runs.
type MemoryStore struct {
	max   int
	mu    sync.Mutex
	runs  map[string]Run
	order []string // insertion order, oldest first
}

// NewMemoryStore returns a store that keeps at most max runs (0: 1000).
func NewMemoryStore(max int) *MemoryStore {
	if max <= 0 {
		max = 1000
	}
	return &MemoryStore{max: max, runs: make(map[string]Run)}
}

// Put implements RunStore.
func (s *MemoryStore) Put(_ context.Context, r Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.runs[r.ID]; !ok {
		s.order = append(s.order, r.ID)
	}
	s.runs[r.ID] = r.clone()
	for len(s.order) > s.max {
		delete(s.runs, s.order[0])
		s.order = s.order[1:]
	}
	return nil
}

// Get implements RunStore.
func (s *MemoryStore) Get(_ context.Context, id string) (Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[id]
	if !ok {
		return Run{}, fmt.Errorf("%w: %q", ErrRunNotFound, truncate(id, 40))
	}
	return r.clone(), nil
}

// Interrupt implements RunStore.
func (s *MemoryStore) Interrupt(_ context.Context, node string, e RunError, at time.Time) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, id := range s.order {
		r := s.runs[id]
		if interrupted(r, node) {
			r.Interrupt(e, at)
			s.runs[id] = r
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// List implements RunStore.
func (s *MemoryStore) List(_ context.Context, appID string, limit int) ([]Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Run
	for i := len(s.order) - 1; i >= 0; i-- {
		if r := s.runs[s.order[i]]; appID == "" || r.AppID == appID {
			out = append(out, r)
		}
	}
	// Newest first by creation; runs created together stay newest put first.
	slices.SortStableFunc(out, func(a, b Run) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i] = out[i].clone()
	}
	return out, nil
}
