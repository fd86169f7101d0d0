package generate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// maxPromptBytes bounds a request's prompt.
const maxPromptBytes = 16 << 10

// Options are the generator's collaborators. The zero value is usable.
type Options struct {
	// Logger receives run logs; default slog.Default().
	Logger *slog.Logger
	// Store keeps run history; default NewMemoryStore(1000). New marks
	// the runs it holds for Node that are still queued or running as
	// failed (ErrInterrupted): their generator stopped without ending them.
	Store RunStore
	// Node names this generator among those sharing Store (cmd/casual
	// passes its node id); runs record it, and New only interrupts the
	// runs of its own node.
	Node string
	// Authorize, when set, checks every HTTP request of Routes against the
	// app it touches ("" for a new app or none): an error is answered 403.
	// It returns who is asking, recorded as Run.By. Unset, every request
	// is allowed (the single-user local default).
	Authorize func(r *http.Request, appID string) (by string, err error)

	// clock is what retries wait on; tests set it.
	clock clock
}

// Generator is the AI co-editor. It runs generations as peers of the
// documents they edit. Its methods are safe for concurrent use; Close
// stops every run and waits for them.
type Generator struct {
	cfg   Config
	conn  Connector
	store RunStore
	node  string
	log   *slog.Logger
	model model
	authz func(r *http.Request, appID string) (string, error)
	slots chan struct{} // one per run generating; its capacity is MaxRuns

	// ctx ends when Close starts: runs stop generating. life ends when
	// Close has waited for them: sessions close, after the runs delivered
	// the operations they completed.
	ctx     context.Context
	cancel  context.CancelCauseFunc
	life    context.Context
	endLife context.CancelFunc
	wg      sync.WaitGroup // run goroutines

	mu     sync.Mutex
	closed bool
	runs   map[string]*runState // running and recently finished runs
	kept   []string             // finished run ids, oldest first
}

// New returns a generator whose runs connect through conn (the collab
// server). With no API key in cfg it uses the offline planner.
func New(cfg Config, conn Connector, opts Options) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("generate config: %w", err)
	}
	if conn == nil {
		return nil, errors.New("generate: a Connector (the collab server) is required")
	}
	cfg = cfg.withDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Store == nil {
		opts.Store = NewMemoryStore(0)
	}
	log := opts.Logger.With(slog.String("peer", "ai"))
	if err := interruptRuns(opts.Store, opts.Node, log); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	life, endLife := context.WithCancel(context.Background())
	g := &Generator{cfg: cfg, conn: conn, store: opts.Store, node: opts.Node, log: log,
		authz: opts.Authorize, slots: make(chan struct{}, cfg.MaxRuns), ctx: ctx, cancel: cancel, life: life, endLife: endLife, runs: make(map[string]*runState)}
	if cfg.Offline() {
		g.model = planner{}
	} else {
		if opts.clock == nil {
			opts.clock = realClock{}
		}
		g.model = newOpenAIModel(cfg, g.log, opts.clock)
	}
	g.log.Info("AI co-editor ready", slog.String("config", cfg.String()))
	return g, nil
}

// interruptTimeout bounds New's cleanup of interrupted runs.
const interruptTimeout = 30 * time.Second

// interruptRuns fails the runs a previous generator of this node left
// queued or running: nothing will finish them now.
func interruptRuns(store RunStore, node string, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), interruptTimeout)
	defer cancel()
	e := RunError{Code: errorCode(ErrInterrupted), Message: ErrInterrupted.Error()}
	ids, err := store.Interrupt(ctx, node, e, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("generate: mark interrupted runs: %w", err)
	}
	if len(ids) > 0 {
		log.Warn("AI runs interrupted by a restart marked failed", slog.Int("runs", len(ids)), slog.Any("ids", ids))
	}
	return nil
}

// Model returns the name of the model runs use (PlannerModel offline).
func (g *Generator) Model() string { return g.model.Name() }

// Close cancels every run, waits for them to deliver the operations they
// completed and stop, and makes further calls fail with ErrClosed. When
// ctx ends first, it cuts the runs' connections and still waits for their
// goroutines. Call it before shutting the collab server down.
func (g *Generator) Close(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel(ErrClosed)
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	defer g.endLife()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		g.endLife() // cut the sessions: the runs then end at once
		<-done
		return fmt.Errorf("close generator: runs were still stopping: %w", ctx.Err())
	}
}

// Request asks for a run.
type Request struct {
	Kind      Kind     `json:"kind"`                // default manifest
	Prompt    string   `json:"prompt"`              // required except for optimize
	AppID     string   `json:"appId,omitempty"`     // empty: a new app (manifest only)
	Mode      Mode     `json:"mode,omitempty"`      // default live
	Selection []string `json:"selection,omitempty"` // component ids the request is about
	By        string   `json:"by,omitempty"`        // who asked, recorded in the run
}

func (r Request) normalize() (Request, crdt.DocID, error) {
	if r.Kind == "" {
		r.Kind = KindManifest
	}
	if r.Mode == "" {
		r.Mode = ModeLive
	}
	r.Prompt = strings.TrimSpace(r.Prompt)
	bad := func(format string, args ...any) (Request, crdt.DocID, error) {
		return r, "", fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
	}
	switch {
	case r.Kind != KindManifest && r.Kind != KindComponents && r.Kind != KindOptimize:
		return bad("kind %q: want manifest, components or optimize", truncate(string(r.Kind), 40))
	case r.Mode != ModeLive && r.Mode != ModeSuggest:
		return bad("mode %q: want live or suggest", truncate(string(r.Mode), 40))
	case r.Prompt == "" && r.Kind != KindOptimize:
		return bad("prompt is empty")
	case len(r.Prompt) > maxPromptBytes || !utf8.ValidString(r.Prompt):
		return bad("prompt must be at most %d bytes of UTF-8", maxPromptBytes)
	case r.AppID == "" && r.Kind != KindManifest:
		return bad("%s needs an appId", r.Kind)
	case len(r.Selection) > 100:
		return bad("at most 100 selected components")
	}
	if r.AppID == "" {
		return r, "", nil
	}
	id, err := crdt.ParseDocID(r.AppID)
	if err != nil {
		return bad("appId: %v", err)
	}
	r.AppID = string(id)
	return r, id, nil
}

// Start queues a run and returns it. Without an AppID it first creates a
// new app document (synced before Start returns, so the returned run's
// AppID can be opened at once). ctx bounds that setup only; the run goes
// on until it ends, is cancelled, or the generator closes.
func (g *Generator) Start(ctx context.Context, req Request) (Run, error) {
	req, appID, err := req.normalize()
	if err != nil {
		return Run{}, err
	}
	if err := g.ctx.Err(); err != nil {
		return Run{}, ErrClosed
	}
	id := newRunID()
	sess, err := g.open(ctx, "ai-"+id, appID)
	if err != nil {
		return Run{}, err
	}
	newApp, err := g.prepareApp(ctx, sess, id, req)
	if err != nil {
		sess.close()
		return Run{}, err
	}
	rs := &runState{done: make(chan struct{}), undo: canvas.NewUndo(), replica: sess.h, run: Run{
		ID: id, AppID: string(sess.h.ID()), Kind: req.Kind, Mode: req.Mode, Status: StatusQueued,
		Prompt: req.Prompt, Selection: req.Selection, Model: g.model.Name(), By: req.By, Node: g.node, NewApp: newApp,
		Applied: []AppliedOp{}, Skipped: []SkippedOp{}, CreatedAt: time.Now().UTC(),
	}}
	rctx, cancel := context.WithCancelCause(g.ctx)
	rs.cancel = cancel
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		cancel(ErrClosed)
		sess.close()
		return Run{}, ErrClosed
	}
	g.runs[id] = rs
	g.wg.Add(1)
	g.mu.Unlock()
	g.persist(rs)
	snap := rs.snapshot()
	go func() {
		defer g.wg.Done()
		defer cancel(nil)
		g.execute(rctx, rs, sess)
	}()
	return snap, nil
}

// prepareApp makes sure the session's document is a canvas app: a new
// one (or an existing empty document) becomes a blank app named after
// the prompt. It reports whether it created the app.
func (g *Generator) prepareApp(ctx context.Context, sess *session, runID string, req Request) (bool, error) {
	var verr error
	sess.h.Read(func(d *crdt.Doc) { _, verr = canvas.Version(d) })
	switch {
	case verr == nil:
		return false, nil
	case !errors.Is(verr, canvas.ErrNotInitialized):
		return false, fmt.Errorf("%w: %s is not a canvas app: %v", ErrInvalidRequest, sess.h.ID(), verr)
	case req.Kind != KindManifest:
		return false, fmt.Errorf("%w: %s is empty; build it with a manifest request first", ErrInvalidRequest, sess.h.ID())
	}
	name := appName(req.Prompt)
	err := sess.h.Change(ctx, commitTag(runID), func(d *crdt.Doc) error { return canvas.NewApp(d, name, "") })
	if err != nil {
		return false, fmt.Errorf("create app: %w", err)
	}
	if err := sess.h.WaitAcked(ctx); err != nil {
		return false, fmt.Errorf("create app: %w", err)
	}
	return true, nil
}

// appName names a new app: the planner's recipe title when the prompt
// matches one, else the prompt's first words.
func appName(prompt string) string {
	if r := matchRecipe(prompt); r != nil {
		return r.title
	}
	name := strings.Join(strings.Fields(prompt), " ")
	if len(name) > 60 {
		name = truncate(name, 60)
	}
	return name
}

// commitTag is the commit message of every change a run makes.
func commitTag(runID string) string { return "ai-run:" + runID }

func newRunID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 12)
	rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Get returns a run: live while it runs, else from the store.
func (g *Generator) Get(ctx context.Context, id string) (Run, error) {
	if rs := g.lookup(id); rs != nil {
		return rs.snapshot(), nil
	}
	r, err := g.store.Get(ctx, id)
	if err != nil {
		return Run{}, fmt.Errorf("get run: %w", err)
	}
	return r, nil
}

// Wait returns the run once it has finished (done, cancelled or failed),
// or ctx's error.
func (g *Generator) Wait(ctx context.Context, id string) (Run, error) {
	rs := g.lookup(id)
	if rs == nil {
		return g.Get(ctx, id)
	}
	if err := rs.wait(ctx); err != nil {
		return Run{}, fmt.Errorf("wait for run %s: %w", id, err)
	}
	return rs.snapshot(), nil
}

// List returns the runs of an app ("" for all), newest first.
func (g *Generator) List(ctx context.Context, appID string, limit int) ([]Run, error) {
	runs, err := g.store.List(ctx, appID, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	for i, r := range runs {
		if rs := g.lookup(r.ID); rs != nil {
			runs[i] = rs.snapshot()
		}
	}
	return runs, nil
}

func (g *Generator) lookup(id string) *runState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.runs[id]
}

// retire marks a run finished and forgets the oldest finished runs'
// undo groups and forks past Config.KeepRuns.
func (g *Generator) retire(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.kept = append(g.kept, id)
	for len(g.kept) > g.cfg.KeepRuns {
		delete(g.runs, g.kept[0])
		g.kept = g.kept[1:]
	}
}

// persist writes the run to the store; the store's failure does not stop
// the run, so it is logged.
func (g *Generator) persist(rs *runState) {
	r := rs.snapshot()
	if err := g.store.Put(context.WithoutCancel(g.life), r); err != nil {
		g.log.Warn("store run", slog.String("run", r.ID), slog.Any("err", err))
	}
}

// runState is a run and what controlling it needs. The run goroutine owns
// undo, fork and base until done is closed; after that they are used
// under mu.
type runState struct {
	mu     sync.Mutex
	run    Run
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the run goroutine has finished
	undo   *canvas.Undo  // the run's one undo group
	fork   *crdt.Doc     // suggest mode: the document the run wrote
	heads  []crdt.Hash   // the shared document's heads once the run's edits were in it
	// replica is the run's copy of the shared document (closed with the
	// run's session).
	replica *client.Handle
}

func (rs *runState) snapshot() Run {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.run.clone()
}

// ops is how many operations the run has applied or skipped.
func (rs *runState) ops() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.run.OpsApplied + rs.run.OpsSkipped
}

func (rs *runState) update(f func(r *Run)) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	f(&rs.run)
}

func (rs *runState) finished() bool {
	select {
	case <-rs.done:
		return true
	default:
		return false
	}
}
