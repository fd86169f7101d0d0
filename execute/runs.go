package execute

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/casual-dev/casual/crdt"
)

// The shape of a run in the app document (canvas schema 1, runs.<id>):
//
//	{handler, input, event?, status, by, at,            written by whoever queues it
//	 "claim:<executor id>": at,                         each executor that wants it (see Peer)
//	 executor, startedAt, attempts, leaseUntil,         the winner, once the run has lasted
//	                                                    ShowRunningAfter, or with the result;
//	                                                    leaseUntil renewed while it runs
//	 output?, error?: {code, message}, logs, metrics:   the result
//	   {durationMs, memoryBytes, queueMs}, finishedAt}
//
// Times are Unix milliseconds. Status goes queued → running → completed or
// failed. Claims are keys of the run itself, not entries of a nested map:
// two executors creating the same nested map concurrently would make two
// objects, and the merge would keep only one of them, with one claim.

// RunRequest is a run to add to a document.
type RunRequest struct {
	ID      string // default NewRunID()
	Handler string
	Input   any
	Event   any
	By      string // who asks: a user id, "api", "embed"...
	At      time.Time
}

// NewRunID returns a fresh random run id. Run ids must be unique across
// apps, as the history looks executions up by run id alone.
func NewRunID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "run-" + string(b)
}

// QueueRun adds a queued run to the document (uncommitted, like canvas
// operations) and returns its id. The handler must exist.
func QueueRun(d *crdt.Doc, r RunRequest) (string, error) {
	if r.ID == "" {
		r.ID = NewRunID()
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	h, err := d.Get("handlers", r.Handler)
	if err != nil {
		return "", fmt.Errorf("queue run: %w", err)
	}
	if _, ok := h.(map[string]any); !ok {
		return "", fmt.Errorf("queue run: handler %q: %w", truncate(r.Handler, 80), ErrNotFound)
	}
	run := map[string]any{"handler": r.Handler, "status": StatusQueued, "by": r.By, "at": r.At.UnixMilli()}
	if r.Input != nil {
		run["input"] = docValue(r.Input)
	}
	if r.Event != nil {
		run["event"] = docValue(r.Event)
	}
	if err := d.Set([]any{"runs", r.ID}, run); err != nil {
		return "", fmt.Errorf("queue run: %w", err)
	}
	return r.ID, nil
}

// docRun is a run as read from the document.
type docRun struct {
	ID       string
	Handler  string
	Status   string
	By       string
	At       float64
	Input    any
	Event    any
	Claims   []string // executor ids that claimed it
	ClaimAt  float64  // the latest claim's time
	Executor string
	// StartedAt, LeaseUntil: Unix ms, 0 if unset. Attempts: times started.
	StartedAt  float64
	LeaseUntil float64
	Attempts   int
	Output     any
	Error      map[string]any
	Logs       []any
	Metrics    map[string]any
}

func (r docRun) finished() bool { return r.Status == StatusCompleted || r.Status == StatusFailed }

// claimed reports whether anyone has claimed or started the run.
func (r docRun) claimed() bool { return len(r.Claims) > 0 || r.Status == StatusRunning }

// winner is the executor that runs a claimed run: the lowest id among the
// claims. Every replica that has seen the same claims agrees on it.
func (r docRun) winner() string {
	if len(r.Claims) == 0 {
		return ""
	}
	return slices.Min(r.Claims)
}

// claimPrefix starts the key of an executor's claim on a run.
const claimPrefix = "claim:"

func readRun(d *crdt.Doc, id string) (docRun, bool) {
	v, err := d.Get("runs", id)
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		return docRun{}, false
	}
	r := docRun{ID: id, Handler: str(m["handler"]), Status: str(m["status"]), By: str(m["by"]),
		Input: m["input"], Event: m["event"], Executor: str(m["executor"]), Output: m["output"]}
	r.At, _ = number(m["at"])
	r.StartedAt, _ = number(m["startedAt"])
	r.LeaseUntil, _ = number(m["leaseUntil"])
	attempts, _ := number(m["attempts"])
	r.Attempts = int(attempts)
	for k, v := range m {
		if id, ok := strings.CutPrefix(k, claimPrefix); ok {
			r.Claims = append(r.Claims, id)
			if at, _ := number(v); at > r.ClaimAt {
				r.ClaimAt = at
			}
		}
	}
	r.Error, _ = m["error"].(map[string]any)
	r.Logs, _ = m["logs"].([]any)
	r.Metrics, _ = m["metrics"].(map[string]any)
	return r, true
}

// leaseEnd is when a claimed, unfinished run's lease ends: its
// leaseUntil once started, else its latest claim (or start) + lease.
func (r docRun) leaseEnd(lease time.Duration) time.Time {
	if r.LeaseUntil > 0 {
		return time.UnixMilli(int64(r.LeaseUntil))
	}
	from := max(r.ClaimAt, r.StartedAt)
	if from == 0 {
		from = r.At
	}
	return time.UnixMilli(int64(from)).Add(lease)
}

type pickKind int

const (
	pickNone   pickKind = iota
	pickQueued          // claim and run it
	pickLapsed          // its executor's lease lapsed: recover it
)

// pick is what pickRun found.
type pick struct {
	kind pickKind
	run  docRun
	busy bool      // the document has queued or unfinished runs
	wake time.Time // with pickNone: when the claimed run's lease ends
}

// pickRun returns the next thing to do in the document: the oldest queued,
// unclaimed run, but only when no run of the document is claimed and
// unfinished, so runs of one app execute one at a time and each sees the
// state its predecessors left; or a claimed run whose lease lapsed before
// now. finished caches ids (and times) of ended runs, which are never
// looked at again.
func pickRun(d *crdt.Doc, finished map[string]float64, now time.Time, lease time.Duration) pick {
	ids, err := d.Keys("runs")
	if err != nil {
		return pick{}
	}
	var queued []docRun
	for _, id := range ids {
		if _, done := finished[id]; done {
			continue
		}
		r, ok := readRun(d, id)
		switch {
		case !ok:
		case r.finished():
			finished[id] = r.At
		case r.claimed():
			if end := r.leaseEnd(lease); now.After(end) {
				return pick{kind: pickLapsed, run: r, busy: true}
			} else {
				return pick{busy: true, wake: end.Add(time.Millisecond)} // one at a time
			}
		case r.Status == StatusQueued && r.Handler != "":
			queued = append(queued, r)
		}
	}
	if len(queued) == 0 {
		return pick{}
	}
	return pick{kind: pickQueued, busy: true, run: slices.MinFunc(queued, func(a, b docRun) int {
		if c := cmp.Compare(a.At, b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})}
}

// handlerJob reads a handler and the app state into a job for run r.
func handlerJob(d *crdt.Doc, r docRun) (Job, error) {
	v, err := d.Get("handlers", r.Handler)
	if err != nil {
		return Job{}, fmt.Errorf("read handler %s: %w", r.Handler, err)
	}
	h, ok := v.(map[string]any)
	if !ok {
		return Job{}, &HandlerError{Err: ErrInvalidHandler, Message: fmt.Sprintf("handler %q does not exist", truncate(r.Handler, 80))}
	}
	state, err := d.Get("state")
	if err != nil {
		return Job{}, fmt.Errorf("read state: %w", err)
	}
	if state == nil {
		state = map[string]any{}
	}
	job := Job{Lang: str(h["lang"]), Source: str(h["source"]), Module: str(h["module"]),
		Input: r.Input, Event: r.Event, State: state}
	if lim, ok := h["limits"].(map[string]any); ok {
		if ms, ok := number(lim["timeoutMs"]); ok {
			job.Limits.Timeout = time.Duration(ms * float64(time.Millisecond))
		}
		if mb, ok := number(lim["memoryMb"]); ok {
			job.Limits.Memory = int64(mb * (1 << 20))
		}
		if n, ok := number(lim["outputBytes"]); ok {
			job.Limits.Output = int64(n)
		}
	}
	return job, nil
}

// writeResult records a finished run and applies its state patch, in one
// change: a peer that sees the run completed also sees its state.
func writeResult(d *crdt.Doc, id string, res Result, runErr error, now time.Time) error {
	set := func(k string, v any) error { return d.Set([]any{"runs", id, k}, v) }
	status := StatusCompleted
	if runErr != nil {
		status = StatusFailed
		if err := set("error", map[string]any{"code": Outcome(runErr), "message": truncate(runErr.Error(), 4096)}); err != nil {
			return err
		}
	} else if res.Output != nil {
		if err := set("output", docValue(res.Output)); err != nil {
			return err
		}
	}
	logs := make([]any, len(res.Logs), len(res.Logs)+1)
	for i, l := range res.Logs {
		logs[i] = l
	}
	if res.LogsDropped > 0 {
		logs = append(logs, fmt.Sprintf("… %d more log lines dropped", res.LogsDropped))
	}
	metrics := map[string]any{"durationMs": ms(res.Duration), "memoryBytes": res.MemoryPeak, "queueMs": ms(res.Queued)}
	for k, v := range map[string]any{"logs": logs, "metrics": metrics, "finishedAt": now.UnixMilli(), "status": status} {
		if err := set(k, v); err != nil {
			return err
		}
	}
	if runErr != nil {
		return nil
	}
	for _, k := range sortedKeys(res.State) {
		var err error
		if v := res.State[k]; v == nil {
			err = d.Delete("state", k)
		} else {
			err = d.Set([]any{"state", k}, docValue(v))
		}
		if err != nil {
			return fmt.Errorf("apply state patch: %w", err)
		}
	}
	return nil
}

// pruneRuns deletes the oldest finished runs beyond keep; the history
// keeps them.
func pruneRuns(d *crdt.Doc, finished map[string]float64, keep int) error {
	if len(finished) <= keep {
		return nil
	}
	ids := sortedKeys(finished)
	slices.SortStableFunc(ids, func(a, b string) int { return cmp.Compare(finished[a], finished[b]) })
	for _, id := range ids[:len(ids)-keep] {
		if err := d.Delete("runs", id); err != nil {
			return err
		}
		delete(finished, id)
	}
	return nil
}

// docValue converts decoded JSON for the document: whole numbers become
// integers (as JavaScript peers write them), the rest is kept.
func docValue(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int64(x)
		}
		return x
	case int:
		return int64(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = docValue(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = docValue(e)
		}
		return l
	}
	return v
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validRunID reports whether id can be a run id (as canvas ids: 1-64 of
// A-Z a-z 0-9 _ -).
func validRunID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) < 0
}

// HasQueuedRun reports whether the document has a run waiting for an
// executor. It is cheap enough to call after every stored change.
func HasQueuedRun(d *crdt.Doc) bool {
	keys, err := d.Keys("runs")
	if err != nil {
		return false
	}
	for _, k := range keys {
		if st, _ := d.Get("runs", k, "status"); st == "queued" {
			return true
		}
	}
	return false
}
