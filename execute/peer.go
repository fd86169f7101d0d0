package execute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// PeerConfig configures a Peer.
type PeerConfig struct {
	// ID names this executor in claims and the history; unique per node
	// (default "executor-" + random). The lowest id wins concurrent claims.
	ID string
	// Dial connects to the sync server: for the in-process peer,
	//
	//	func(ctx context.Context) (client.Transport, error) {
	//		return collabServer.Connect(ctx, collab.Credentials{Actor: "executor"}), nil
	//	}
	Dial    func(ctx context.Context) (client.Transport, error)
	Engine  *Engine
	History History // default an in-memory history
	// ClaimSettle is how long a claimer waits, after the server has
	// acknowledged its claim, for concurrent claims to arrive before
	// deciding who won. With executors sharing one History (one node, or
	// one database) the History decides and 0 is right; with several nodes
	// and separate histories, set it above the cross-node delay (50 ms).
	ClaimSettle time.Duration
	// KeepRuns bounds finished runs kept in a document (default 100); the
	// executor deletes older ones, which stay in the history.
	KeepRuns int
	Logger   *slog.Logger
}

// Peer is the executor's replica: it watches documents for queued runs,
// claims them, runs them on the Engine and writes the results back, as
// changes of its own actor.
//
// How a run is claimed so that one executor runs it, even with several:
//  1. A run is taken only when no other run of the document is claimed and
//     unfinished, oldest first; so runs of one app are serialized across
//     executors, and each sees the state its predecessor wrote.
//  2. The executor writes runs.<id>["claim:<its id>"] = now. Claims are
//     distinct keys of the run's map, so concurrent claims all survive the
//     merge.
//  3. If ClaimSettle is set, it waits until the server has acknowledged
//     the claim (its reply carries every change the server had, including
//     earlier claims), then ClaimSettle for later concurrent ones.
//  4. The winner is the lowest executor id among the claims it sees; a
//     loser stops. Every replica with the same claims agrees.
//  5. The winner fences through History.Claim, atomic in a shared store: if
//     replication was slower than ClaimSettle and two executors both think
//     they won, only one passes the fence.
//  6. It sets status running, runs the handler, and writes status, output
//     or error, logs, metrics and the state patch in one change.
type Peer struct {
	cfg  PeerConfig
	log  *slog.Logger
	cl   *client.Client
	eng  *Engine
	hist History

	ctx    context.Context // ends every watch
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	watches map[crdt.DocID]*watch
	closed  bool
	ran     int64 // runs this peer executed
}

type watch struct {
	h      *client.Handle
	cancel context.CancelFunc
	done   chan struct{}
}

// NewPeer connects to the server and returns a peer watching nothing yet.
func NewPeer(ctx context.Context, cfg PeerConfig) (*Peer, error) {
	if cfg.Dial == nil || cfg.Engine == nil {
		return nil, errors.New("execute: PeerConfig needs Dial and Engine")
	}
	if cfg.ID == "" {
		cfg.ID = "executor-" + NewRunID()[4:12]
	}
	if cfg.History == nil {
		cfg.History = NewMemHistory(0)
	}
	if cfg.KeepRuns <= 0 {
		cfg.KeepRuns = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t, err := cfg.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("executor %s: dial: %w", cfg.ID, err)
	}
	cl, err := client.New(ctx, t, client.Options{PeerID: cfg.ID, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("executor %s: join: %w", cfg.ID, err)
	}
	pctx, cancel := context.WithCancel(context.Background())
	return &Peer{cfg: cfg, log: cfg.Logger.With(slog.String("executor", cfg.ID)), cl: cl, eng: cfg.Engine,
		hist: cfg.History, ctx: pctx, cancel: cancel, watches: map[crdt.DocID]*watch{}}, nil
}

// ID returns the executor id.
func (p *Peer) ID() string { return p.cfg.ID }

// Ran returns how many runs this peer has executed.
func (p *Peer) Ran() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ran
}

// Watch makes the peer open doc and execute its queued runs until Unwatch
// or Close. Call it whenever a document may get runs: when a room opens a
// document, and before queueing a run through the API (Executor.Execute
// does). Watching a watched document does nothing. ctx bounds fetching the
// document only.
func (p *Peer) Watch(ctx context.Context, doc crdt.DocID) (*client.Handle, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if w := p.watches[doc]; w != nil {
		p.mu.Unlock()
		return w.h, nil
	}
	p.mu.Unlock()
	h, err := p.cl.Find(ctx, doc)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", doc, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if w := p.watches[doc]; w != nil { // a concurrent Watch won
		return w.h, nil
	}
	wctx, cancel := context.WithCancel(p.ctx)
	w := &watch{h: h, cancel: cancel, done: make(chan struct{})}
	p.watches[doc] = w
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(w.done)
		p.loop(wctx, doc, h)
	}()
	return h, nil
}

// Unwatch stops executing runs of doc and waits for a run under way.
func (p *Peer) Unwatch(doc crdt.DocID) {
	p.mu.Lock()
	w := p.watches[doc]
	delete(p.watches, doc)
	p.mu.Unlock()
	if w != nil {
		w.cancel()
		<-w.done
	}
}

// Close stops every watch and disconnects. Runs under way are abandoned
// (their status stays running).
func (p *Peer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	return p.cl.Close()
}

// loop executes doc's runs, one at a time, whenever the replica changes.
func (p *Peer) loop(ctx context.Context, doc crdt.DocID, h *client.Handle) {
	log := p.log.With(slog.String("doc", string(doc)))
	finished := map[string]float64{}
	var seen []crdt.Hash
	for {
		err := h.WaitFor(ctx, func(d *crdt.Doc) bool { return !slices.Equal(d.Heads(), seen) })
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("stop watching", slog.Any("err", err))
			}
			return
		}
		for {
			var next docRun
			var ok bool
			h.Read(func(d *crdt.Doc) {
				seen = d.Heads()
				next, ok = pickRun(d, finished)
			})
			if !ok {
				break
			}
			if err := p.process(ctx, doc, h, next, finished); err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Warn("run", slog.String("run", next.ID), slog.Any("err", err))
				break // wait for the next change rather than spin
			}
		}
	}
}

// errTaken: the run was claimed by someone else first.
var errTaken = errors.New("run already claimed")

// process claims run r and, if this peer wins, executes it.
func (p *Peer) process(ctx context.Context, doc crdt.DocID, h *client.Handle, r docRun, finished map[string]float64) error {
	won, err := p.claim(ctx, h, r.ID)
	if err != nil || !won {
		return err
	}
	rec := Record{ID: r.ID, App: string(doc), Handler: r.Handler, Status: StatusRunning, Input: r.Input,
		By: r.By, Executor: p.cfg.ID, QueuedAt: time.UnixMilli(int64(r.At))}
	start := time.Now()
	rec.StartedAt = &start
	if ok, err := p.hist.Claim(ctx, rec); err != nil || !ok {
		if err == nil {
			p.log.Debug("lost the fence", slog.String("run", r.ID))
		}
		return err
	}
	// Only the winner writes status: a loser's concurrent "running" could
	// otherwise outlive the winner's "completed" in the merge.
	var job Job
	var jobErr error
	err = h.Change(ctx, "execute: start "+r.ID, func(d *crdt.Doc) error {
		job, jobErr = handlerJob(d, r)
		for k, v := range map[string]any{"status": StatusRunning, "executor": p.cfg.ID, "startedAt": start.UnixMilli()} {
			if err := d.Set([]any{"runs", r.ID, k}, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("start run %s: %w", r.ID, err)
	}
	var res Result
	runErr := jobErr
	if runErr == nil {
		res, runErr = p.eng.Run(ctx, job)
	}
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: leave it running, not failed
	}
	p.mu.Lock()
	p.ran++
	p.mu.Unlock()
	end := time.Now()
	err = h.Change(ctx, "execute: finish "+r.ID, func(d *crdt.Doc) error {
		if err := writeResult(d, r.ID, res, runErr, end); err != nil {
			return err
		}
		finished[r.ID] = r.At
		return pruneRuns(d, finished, p.cfg.KeepRuns)
	})
	if err != nil {
		return fmt.Errorf("finish run %s: %w", r.ID, err)
	}
	fillRecord(&rec, res, runErr, end)
	if err := p.hist.Put(ctx, rec); err != nil {
		return fmt.Errorf("record run %s: %w", r.ID, err)
	}
	return nil
}

// claim writes this peer's claim on run id, lets concurrent claims arrive,
// and reports whether this peer won.
func (p *Peer) claim(ctx context.Context, h *client.Handle, id string) (bool, error) {
	err := h.Change(ctx, "execute: claim "+id, func(d *crdt.Doc) error {
		r, ok := readRun(d, id)
		if !ok || r.claimed() || r.finished() {
			return errTaken // nothing was edited
		}
		return d.Set([]any{"runs", id, claimPrefix + p.cfg.ID}, time.Now().UnixMilli())
	})
	if errors.Is(err, errTaken) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", id, err)
	}
	if p.cfg.ClaimSettle > 0 {
		// Without a settle time the History fence decides, and waiting
		// for the server would only add a durable round trip.
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := h.WaitAcked(actx); err != nil {
			return false, fmt.Errorf("claim %s: wait for the server: %w", id, err)
		}
		t := time.NewTimer(p.cfg.ClaimSettle)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		}
	}
	var winner string
	h.Read(func(d *crdt.Doc) {
		r, _ := readRun(d, id)
		winner = r.winner()
	})
	return winner == p.cfg.ID, nil
}

func fillRecord(rec *Record, res Result, runErr error, end time.Time) {
	rec.FinishedAt = &end
	rec.Status = StatusCompleted
	rec.Output = res.Output
	rec.Logs = res.Logs
	if runErr != nil {
		rec.Status = StatusFailed
		rec.Error = &RunError{Code: Outcome(runErr), Message: runErr.Error()}
	}
	rec.DurationMs = ms(res.Duration)
	rec.MemoryBytes = res.MemoryPeak
	rec.Cost = max(float64(res.MemoryPeak)/(1<<20), 1) * res.Duration.Seconds()
}
