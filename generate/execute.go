package generate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// execute runs one generation to its end. It owns sess.
func (g *Generator) execute(ctx context.Context, rs *runState, sess *session) {
	defer close(rs.done)
	defer sess.close()
	r := rs.snapshot()
	pres := presence{name: g.cfg.Name, runID: r.ID}
	select { // wait for a slot: at most MaxRuns generate at once
	case g.slots <- struct{}{}:
		defer func() { <-g.slots }()
	case <-ctx.Done():
		g.finish(rs, sess, pres, streamStats{}, context.Cause(ctx))
		return
	}
	rs.update(func(r *Run) { r.Status, r.StartedAt = StatusRunning, time.Now().UTC() })
	g.persist(rs)
	g.broadcast(g.life, sess, pres.snapshot(StatusRunning, ""))
	stopBeat := g.heartbeat(sess, pres, rs)
	ap, err := g.newApplier(rs, sess, pres)
	var st streamStats
	if err == nil {
		st, err = g.stream(ctx, r, ap)
	}
	stopBeat()
	if ap != nil {
		err = errors.Join(err, g.settle(rs, sess, ap))
	}
	end := rs.snapshot()
	g.log.Info("AI run ended", slog.String("run", r.ID), slog.String("doc", r.AppID),
		slog.Int("applied", end.OpsApplied), slog.Int("skipped", end.OpsSkipped), slog.Any("err", err))
	g.finish(rs, sess, pres, st, err)
}

// stream asks the model and applies its output as one undo group.
func (g *Generator) stream(ctx context.Context, r Run, ap *applier) (streamStats, error) {
	j := &job{kind: r.Kind, prompt: r.Prompt, selection: r.Selection, newApp: r.NewApp, snap: ap.snap}
	if !g.cfg.NoTools && !g.cfg.Offline() {
		j.onCall = ap.call
	}
	j.msgs = buildMessages(j)
	ap.rs.undo.Begin(commitTag(r.ID))
	defer ap.rs.undo.End()
	st, err := g.model.Stream(ctx, j, ap.feed)
	switch {
	case err == nil: // a last line without newline still counts
		return st, ap.flush()
	case errors.Is(err, errMaxOps):
		return st, nil
	}
	return st, err // the partial line of a broken-off stream is dropped
}

// settle makes the run's result durable: live, it waits until the server
// has every op (and records the heads revert waits for); in suggest mode
// it keeps the fork and its diff for accept.
func (g *Generator) settle(rs *runState, sess *session, ap *applier) error {
	if ap.fork == nil {
		err := sess.flush(g.life)
		heads := sess.h.Heads()
		rs.mu.Lock()
		rs.heads = heads
		rs.mu.Unlock()
		return err
	}
	diff := diffDocs(ap.base, ap.fork)
	rs.mu.Lock()
	rs.fork = ap.fork
	rs.run.Suggestion = &Suggestion{State: SuggestionPending, Diff: diff}
	rs.mu.Unlock()
	return nil
}

// finish records how the run ended and tells the room.
func (g *Generator) finish(rs *runState, sess *session, pres presence, st streamStats, err error) {
	rs.update(func(r *Run) {
		r.FinishedAt = time.Now().UTC()
		r.TokensIn, r.TokensOut, r.TokensEstimated = st.In, st.Out, !st.Reported
		r.Retries = st.Retries
		r.CostUSD = (float64(st.In)*g.cfg.PriceIn + float64(st.Out)*g.cfg.PriceOut) / 1e6
		if g.model.Name() == PlannerModel {
			r.CostUSD = 0
		}
		r.Cursor = ""
		switch {
		case err == nil:
			r.Status = StatusDone
		case errors.Is(err, ErrCancelled) || errors.Is(err, ErrClosed):
			r.Status = StatusCancelled
			r.Error = &RunError{Code: errorCode(err), Message: err.Error()}
		default:
			r.Status = StatusFailed
			r.Error = &RunError{Code: errorCode(err), Message: err.Error()}
		}
	})
	g.persist(rs)
	final := rs.snapshot().Status
	g.broadcast(g.life, sess, pres.snapshot(final, ""))
	g.retire(rs.run.ID)
}

// heartbeat repeats the presence snapshot while the run works, so peers'
// presence TTLs keep the AI, and stores the run's progress, so a server
// that dies mid-run leaves its history at most one beat behind. The
// returned func stops it and waits.
func (g *Generator) heartbeat(sess *session, pres presence, rs *runState) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(g.cfg.PresenceHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r := rs.snapshot()
				g.broadcast(g.life, sess, pres.snapshot(r.Status, r.Cursor))
				g.persist(rs)
			case <-done:
				return
			case <-g.ctx.Done():
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// errorCode is the machine-readable code of an error, as HTTP bodies and
// RunError carry it.
func errorCode(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{
		{ErrAuth, "auth"}, {ErrUnknownModel, "unknown_model"}, {ErrRateLimited, "rate_limited"},
		{ErrTimeout, "timeout"}, {ErrProvider, "provider"}, {ErrCancelled, "cancelled"},
		{ErrClosed, "closed"}, {ErrInterrupted, "interrupted"}, {ErrRunNotFound, "not_found"}, {ErrAppNotFound, "not_found"},
		{ErrInvalidRequest, "bad_request"}, {ErrConflict, "conflict"},
		{context.DeadlineExceeded, "timeout"}, {context.Canceled, "cancelled"},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

// Cancel stops a run's stream; the operations it completed stay. It
// waits (bounded by ctx) for the run to stop and returns it. Cancelling a
// finished run returns it unchanged.
func (g *Generator) Cancel(ctx context.Context, id string) (Run, error) {
	rs := g.lookup(id)
	if rs == nil {
		return g.finishedRun(ctx, id)
	}
	rs.cancel(ErrCancelled)
	select {
	case <-rs.done:
	case <-ctx.Done():
		return Run{}, fmt.Errorf("cancel run %s: %w", id, ctx.Err())
	}
	return rs.snapshot(), nil
}

// finishedRun returns a run no longer kept in memory.
func (g *Generator) finishedRun(ctx context.Context, id string) (Run, error) {
	r, err := g.store.Get(ctx, id)
	if err != nil {
		return Run{}, err
	}
	return r, nil
}

// wait returns once the run has finished, or ctx ends.
func (rs *runState) wait(ctx context.Context) error {
	select {
	case <-rs.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
