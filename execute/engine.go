package execute

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Config configures an Engine. Zero values take defaults.
type Config struct {
	// QuickJS is the JavaScript engine's WASM (build/quickjs.wasm, made by
	// scripts/build-quickjs.sh; see LoadQuickJS). Without it JavaScript
	// handlers fail with ErrInvalidHandler and only WASM modules run.
	QuickJS []byte
	// CacheDir keeps wazero's compiled code across restarts (cold start in
	// milliseconds instead of about a second). Empty: in memory only.
	CacheDir string
	// Limits are the defaults for runs that set none (DefaultLimits).
	Limits Limits
	// MaxLimits cap what a handler may ask for (default 30 s, 256 MiB,
	// 16 MiB output, 1000 log lines, 1 MiB of logs).
	MaxLimits Limits
	// MaxConcurrent bounds runs at once, and so live instances (default
	// 2 × GOMAXPROCS).
	MaxConcurrent int
	// MaxQueue bounds runs waiting for a slot (default 10000); past it Run
	// fails with ErrQueueFull.
	MaxQueue int
	// Warm is how many JavaScript instances are started with the engine
	// (default MaxConcurrent). Instances are reused up to MaxConcurrent;
	// one that breaks a limit or wears out is closed and replaced on
	// demand.
	Warm int
	// MaxUses replaces an instance after that many runs (default 1000).
	MaxUses int
	// RecycleAbove replaces an instance whose linear memory grew past it
	// (default 16 MiB): WASM memory never shrinks.
	RecycleAbove int64
	// Blobs holds uploaded WASM modules (nil: WASM handlers fail with
	// ErrNotFound).
	Blobs BlobStore
	// Registerer receives the engine's metrics (nil: none).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

func (c Config) withDefaults() Config {
	c.Limits = c.Limits.orDefault(DefaultLimits())
	c.MaxLimits = c.MaxLimits.orDefault(Limits{Timeout: 30 * time.Second, Memory: 256 << 20,
		Output: 16 << 20, LogLines: 1000, LogBytes: 1 << 20})
	c.Limits = c.Limits.capped(c.MaxLimits)
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = 10000
	}
	if c.Warm <= 0 {
		c.Warm = c.MaxConcurrent
	}
	c.Warm = min(c.Warm, c.MaxConcurrent)
	if c.MaxUses <= 0 {
		c.MaxUses = 1000
	}
	if c.RecycleAbove <= 0 {
		c.RecycleAbove = 16 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// LoadQuickJS reads the engine's WASM from path, or from
// $CASUAL_QUICKJS_WASM when path is empty.
func LoadQuickJS(path string) ([]byte, error) {
	if path == "" {
		path = os.Getenv("CASUAL_QUICKJS_WASM")
	}
	if path == "" {
		path = DefaultQuickJSPath
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load quickjs engine (build it with scripts/build-quickjs.sh): %w", err)
	}
	return b, nil
}

// DefaultQuickJSPath is where scripts/build-quickjs.sh writes the engine,
// relative to the repository root.
const DefaultQuickJSPath = "build/quickjs.wasm"

// Job is one run to do.
type Job struct {
	Lang   string // "js" or "wasm"
	Source string // js: the module source
	Module string // wasm: "sha256:<hex>" in the BlobStore
	Input  any
	State  any
	Event  any
	Limits Limits // zero fields take the engine's defaults
}

// Result is what a run produced. On error it still carries the logs and
// metrics gathered before the failure.
type Result struct {
	Output      any
	State       map[string]any // the patch to apply to the app's state; nil if none
	Logs        []string
	LogsDropped int
	Duration    time.Duration // running time, without the queue
	Queued      time.Duration // time waiting for a slot
	MemoryPeak  int64         // bytes: JS heap peak, or a module's linear memory
}

// Engine runs handlers in wazero with hard limits: a pool of warm QuickJS
// instances for JavaScript, and a fresh instance per run for uploaded WASM
// modules. No filesystem, network or environment is given to either.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	rt      wazero.Runtime
	cache   wazero.CompilationCache
	quickjs wazero.CompiledModule // nil without Config.QuickJS
	maxLine int                   // longest answer line accepted from the guest
	metrics *metrics
	modules *moduleCache

	slots   chan struct{}
	waiting atomic.Int64
	running atomic.Int64

	mu       sync.Mutex
	idle     []*jsInstance
	all      map[*jsInstance]struct{} // started and not yet closed
	liveHigh int                      // most live at once
	closed   bool

	created, killed atomic.Int64
}

// New compiles the engine and starts Config.Warm instances.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, log: cfg.Logger, slots: make(chan struct{}, cfg.MaxConcurrent),
		metrics: newMetrics(cfg.Registerer), all: map[*jsInstance]struct{}{}}
	// Room for the largest result plus logs and JSON overhead.
	e.maxLine = int(2*cfg.MaxLimits.Output + 2*cfg.MaxLimits.LogBytes + 64<<10)
	var err error
	if cfg.CacheDir != "" {
		if e.cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", cfg.CacheDir, err)
		}
	} else {
		e.cache = wazero.NewCompilationCache()
	}
	pages := uint32((cfg.MaxLimits.Memory + jsHeadroom + 65535) / 65536)
	e.rt = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCompilationCache(e.cache).
		// A stuck guest can only be stopped if compiled code checks for
		// cancellation; it costs loops some speed and buys the guarantee.
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(pages))
	e.modules = newModuleCache(e, 64)
	if err := e.setup(ctx); err != nil {
		e.rt.Close(context.Background())
		return nil, err
	}
	return e, nil
}

func (e *Engine) setup(ctx context.Context) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.rt); err != nil {
		return fmt.Errorf("instantiate wasi: %w", err)
	}
	if _, err := e.rt.NewHostModuleBuilder("casual").
		NewFunctionBuilder().WithFunc(shouldStop).Export("should_stop").
		Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate host module: %w", err)
	}
	if len(e.cfg.QuickJS) == 0 {
		e.log.Warn("no quickjs engine: javascript handlers will fail; build it with scripts/build-quickjs.sh")
		return nil
	}
	start := time.Now()
	cm, err := e.rt.CompileModule(ctx, e.cfg.QuickJS)
	if err != nil {
		return fmt.Errorf("compile quickjs: %w", err)
	}
	e.quickjs = cm
	e.log.Info("quickjs compiled", slog.Duration("took", time.Since(start)))
	for range e.cfg.Warm {
		in, err := e.newInstance(ctx)
		if err != nil {
			e.Close(context.Background())
			return err
		}
		e.mu.Lock()
		e.idle = append(e.idle, in)
		e.mu.Unlock()
	}
	return nil
}

// Close stops every instance and the runtime. Runs in flight fail.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.idle = nil
	all := make([]*jsInstance, 0, len(e.all))
	for in := range e.all {
		all = append(all, in)
	}
	e.mu.Unlock()
	// Busy instances too: their runs fail, and no guest outlives Close.
	for _, in := range all {
		e.closeInstance(in)
	}
	if err := e.rt.Close(ctx); err != nil {
		return fmt.Errorf("close runtime: %w", err)
	}
	return e.cache.Close(ctx)
}

// Stats is a snapshot of the engine's pool.
type Stats struct {
	Live, Idle, LiveHigh int
	Running, Waiting     int64
	Created, Killed      int64
}

// Stats returns the pool's current figures.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Stats{Live: len(e.all), Idle: len(e.idle), LiveHigh: e.liveHigh, Running: e.running.Load(),
		Waiting: e.waiting.Load(), Created: e.created.Load(), Killed: e.killed.Load()}
}

// Run runs one job, waiting for a slot if all are busy.
func (e *Engine) Run(ctx context.Context, job Job) (Result, error) {
	lim := job.Limits.orDefault(e.cfg.Limits).capped(e.cfg.MaxLimits)
	queuedAt := time.Now()
	if err := e.acquire(ctx); err != nil {
		return Result{}, err
	}
	defer e.release()
	start := time.Now()
	var res Result
	var err error
	switch job.Lang {
	case "js":
		res, err = e.runJS(ctx, job, lim)
	case "wasm":
		res, err = e.runModule(ctx, job, lim)
	default:
		err = &HandlerError{Err: ErrInvalidHandler, Message: fmt.Sprintf("lang %q: want js or wasm", job.Lang)}
	}
	res.Queued, res.Duration = start.Sub(queuedAt), time.Since(start)
	e.metrics.observe(job.Lang, res.Duration, err)
	return res, err
}

func (e *Engine) acquire(ctx context.Context) error {
	if n := e.waiting.Add(1); n > int64(e.cfg.MaxQueue) {
		e.waiting.Add(-1)
		return fmt.Errorf("%w: %d runs waiting", ErrQueueFull, n-1)
	}
	e.metrics.queue.Inc()
	defer func() {
		e.waiting.Add(-1)
		e.metrics.queue.Dec()
	}()
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for a slot: %w", ctx.Err())
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		<-e.slots
		return ErrClosed
	}
	e.running.Add(1)
	return nil
}

func (e *Engine) release() {
	e.running.Add(-1)
	<-e.slots
}

func (e *Engine) runJS(ctx context.Context, job Job, lim Limits) (Result, error) {
	if e.quickjs == nil {
		return Result{}, &HandlerError{Err: ErrInvalidHandler, Message: "javascript is unavailable: the server has no quickjs engine (scripts/build-quickjs.sh)"}
	}
	req, err := json.Marshal(guestRequest{Source: job.Source, Input: job.Input, State: job.State, Event: job.Event,
		MemLimit: lim.Memory, MaxOutput: lim.Output, MaxLogLines: lim.LogLines, MaxLogBytes: lim.LogBytes})
	if err != nil {
		return Result{}, &HandlerError{Err: ErrInvalidHandler, Message: fmt.Sprintf("encode input: %v", err)}
	}
	req = append(req, '\n')
	in, err := e.take(ctx)
	if err != nil {
		return Result{}, err
	}
	resp, broken, err := in.run(ctx, req, lim)
	res := Result{Logs: resp.Logs, LogsDropped: resp.LogsDropped, MemoryPeak: resp.MemPeak}
	switch {
	case err != nil:
	case in.stop.Load(): // the deadline passed, whatever the guest then said
		err = timeoutError(lim, resp.Error.Message)
	case !resp.OK:
		err = guestError(resp, lim)
	default:
		err = decodeResult(resp.Result, &res)
	}
	e.put(in, broken, Outcome(err))
	return res, err
}

// guestError turns the guest's error answer into the package's errors.
func guestError(resp guestResponse, lim Limits) error {
	msg := resp.Error.Message
	switch resp.Kind {
	case "timeout":
		return timeoutError(lim, msg)
	case "memory":
		return memoryError(lim, msg)
	case "stack":
		return stackError(msg)
	case "output":
		return outputError(lim, msg)
	case "invalid":
		return &HandlerError{Err: ErrInvalidHandler, Name: resp.Error.Name, Message: msg, Stack: resp.Error.Stack}
	}
	return &HandlerError{Err: ErrHandler, Name: resp.Error.Name, Message: msg, Stack: resp.Error.Stack}
}

// decodeResult reads {output?, state?} into res.
func decodeResult(raw []byte, res *Result) error {
	if len(raw) == 0 {
		return nil
	}
	var r struct {
		Output any            `json:"output"`
		State  map[string]any `json:"state"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return &HandlerError{Err: ErrInvalidHandler, Message: fmt.Sprintf("result is not {output?, state?}: %v", err)}
	}
	res.Output, res.State = r.Output, r.State
	return nil
}

// take returns an idle instance or starts one. The caller holds a slot, so
// live instances never exceed MaxConcurrent.
func (e *Engine) take(ctx context.Context) (*jsInstance, error) {
	e.mu.Lock()
	if len(e.idle) > 0 {
		// Oldest first: it has had the longest to build its next JS
		// context since its last answer.
		in := e.idle[0]
		e.idle = slices.Delete(e.idle, 0, 1)
		e.mu.Unlock()
		return in, nil
	}
	e.mu.Unlock()
	return e.newInstance(ctx)
}

func (e *Engine) newInstance(ctx context.Context) (*jsInstance, error) {
	in, err := e.startJS(ctx)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		in.close()
		return nil, ErrClosed
	}
	e.all[in] = struct{}{}
	e.liveHigh = max(e.liveHigh, len(e.all))
	e.mu.Unlock()
	e.created.Add(1)
	e.metrics.instances.Inc()
	return in, nil
}

// closeInstance stops an instance; closing one twice (a run ending while
// the engine closes) is harmless.
func (e *Engine) closeInstance(in *jsInstance) {
	in.close()
	e.mu.Lock()
	_, live := e.all[in]
	delete(e.all, in)
	e.mu.Unlock()
	if live {
		e.metrics.instances.Dec()
	}
}

// put returns an instance after a run. A broken or worn instance is closed
// at once (the caller still holds its slot, so instances never outnumber
// slots); the next run that finds no idle instance starts a fresh one.
func (e *Engine) put(in *jsInstance, broken bool, reason string) {
	worn := in.uses >= e.cfg.MaxUses || in.mem.size() > e.cfg.RecycleAbove
	e.mu.Lock()
	if !broken && !worn && !e.closed {
		e.idle = append(e.idle, in)
		e.mu.Unlock()
		return
	}
	e.mu.Unlock()
	if broken {
		e.killed.Add(1)
		e.metrics.kills.WithLabelValues(reason).Inc()
	}
	e.closeInstance(in)
}
