package execute

import (
	"bytes"
	"container/list"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
)

// runModule runs an uploaded WASI preview1 command: the JSON
// {input, state, event} on stdin, {output?, state?} expected on stdout,
// stderr lines captured as logs. Each run gets a fresh instance, so nothing
// survives between runs and a trap harms nothing else.
func (e *Engine) runModule(ctx context.Context, job Job, lim Limits) (Result, error) {
	var res Result
	if e.cfg.Blobs == nil {
		return res, fmt.Errorf("module %s: no blob store configured: %w", truncate(job.Module, 80), ErrNotFound)
	}
	cm, err := e.modules.get(ctx, job.Module)
	if err != nil {
		return res, err
	}
	if err := checkModule(cm, lim); err != nil {
		return res, err
	}
	in, err := json.Marshal(map[string]any{"input": job.Input, "state": job.State, "event": job.Event})
	if err != nil {
		return res, &HandlerError{Err: ErrInvalidHandler, Message: fmt.Sprintf("encode input: %v", err)}
	}
	stdout := &cappedBuffer{max: int(lim.Output)}
	stderr := &logWriter{maxLines: lim.LogLines, maxBytes: int(lim.LogBytes)}
	mem := &linearMemory{}
	mem.limit.Store(lim.Memory)
	rctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	rctx = experimental.WithMemoryAllocator(rctx, allocator{mem})
	cfg := wazero.NewModuleConfig().WithName("").WithArgs("module").
		WithStdin(bytes.NewReader(in)).WithStdout(stdout).WithStderr(stderr).
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	err = e.instantiate(rctx, cm, cfg)
	if exit := (*sys.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	res.Logs, res.LogsDropped = stderr.result()
	res.MemoryPeak = mem.size()
	switch {
	case rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil:
		return res, timeoutError(lim, "module killed at the deadline")
	case ctx.Err() != nil:
		return res, fmt.Errorf("run module: %w", ctx.Err())
	case mem.refused.Load() && err != nil:
		return res, memoryError(lim, fmt.Sprintf("the module could not grow its memory: %v", err))
	case err != nil:
		return res, moduleError(err, stderr)
	case stdout.over:
		return res, outputError(lim, fmt.Sprintf("module wrote more than %d bytes", lim.Output))
	}
	out := bytes.TrimSpace(stdout.buf.Bytes())
	if len(out) == 0 {
		return res, nil
	}
	if !json.Valid(out) || out[0] != '{' {
		return res, &HandlerError{Err: ErrInvalidHandler, Name: "output",
			Message: fmt.Sprintf("a module writes one JSON object {output?, state?} to stdout, got %q", truncate(string(out), 120))}
	}
	return res, decodeResult(out, &res)
}

// instantiate runs the module's _start, turning a panic of a hostile
// module's setup into an error.
func (e *Engine) instantiate(ctx context.Context, cm wazero.CompiledModule, cfg wazero.ModuleConfig) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("instantiate: %v", r)
		}
	}()
	mod, err := e.rt.InstantiateModule(ctx, cm, cfg)
	if mod != nil {
		mod.Close(context.Background())
	}
	return err
}

// checkModule refuses what a module may not have: imports other than WASI
// preview1, no _start, an initial memory over the limit.
func checkModule(cm wazero.CompiledModule, lim Limits) error {
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != "wasi_snapshot_preview1" {
			return &HandlerError{Err: ErrInvalidHandler, Name: "import",
				Message: fmt.Sprintf("module imports %s.%s: modules may import only wasi_snapshot_preview1", mod, name)}
		}
	}
	if len(cm.ImportedMemories()) > 0 {
		return &HandlerError{Err: ErrInvalidHandler, Name: "import", Message: "module imports a memory"}
	}
	if _, ok := cm.ExportedFunctions()["_start"]; !ok {
		return &HandlerError{Err: ErrInvalidHandler, Name: "export", Message: "module has no _start: upload a WASI command"}
	}
	for _, m := range cm.ExportedMemories() {
		if need := int64(m.Min()) * 65536; need > lim.Memory {
			return memoryError(lim, fmt.Sprintf("module starts with %s of memory", bytesFigure(need)))
		}
	}
	return nil
}

func moduleError(err error, stderr *logWriter) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		msg := fmt.Sprintf("module exited with code %d", exit.ExitCode())
		if last := stderr.last(); last != "" {
			msg += ": " + last
		}
		return &HandlerError{Err: ErrHandler, Name: "exit", Message: msg}
	}
	// A trap: unreachable, out-of-bounds access, stack exhaustion...
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i > 0 {
		msg = msg[:i]
	}
	return &HandlerError{Err: ErrHandler, Name: "trap", Message: msg}
}

// moduleCache compiles modules once and keeps the most recently used.
type moduleCache struct {
	e   *Engine
	max int

	mu      sync.Mutex
	order   *list.List // of string keys, most recent first
	entries map[string]*moduleEntry
}

type moduleEntry struct {
	elem    *list.Element
	ready   chan struct{}
	cm      wazero.CompiledModule
	err     error
	evicted bool // dropped while compiling: the compiler closes it
}

func newModuleCache(e *Engine, max int) *moduleCache {
	return &moduleCache{e: e, max: max, order: list.New(), entries: map[string]*moduleEntry{}}
}

// get returns the compiled module under key, compiling it once.
func (c *moduleCache) get(ctx context.Context, key string) (wazero.CompiledModule, error) {
	if err := CheckBlobKey(key); err != nil {
		return nil, &HandlerError{Err: ErrInvalidHandler, Message: err.Error()}
	}
	c.mu.Lock()
	if ent, ok := c.entries[key]; ok {
		c.order.MoveToFront(ent.elem)
		c.mu.Unlock()
		select {
		case <-ent.ready:
			return ent.cm, ent.err
		case <-ctx.Done():
			return nil, fmt.Errorf("compile module: %w", ctx.Err())
		}
	}
	ent := &moduleEntry{ready: make(chan struct{})}
	ent.elem = c.order.PushFront(key)
	c.entries[key] = ent
	c.evictLocked()
	c.mu.Unlock()

	cm, err := c.compile(ctx, key)
	c.mu.Lock()
	ent.cm, ent.err = cm, err
	close(ent.ready)
	if err != nil && !errors.Is(err, ErrInvalidHandler) && c.entries[key] == ent {
		// A transient failure (blob store, ctx): don't remember it.
		c.order.Remove(ent.elem)
		delete(c.entries, key)
	}
	evicted := ent.evicted
	c.mu.Unlock()
	if evicted && cm != nil {
		// Runs already holding it keep working: wazero allows closing a
		// compiled module with live instances.
		defer cm.Close(context.Background())
	}
	return cm, err
}

func (c *moduleCache) compile(ctx context.Context, key string) (wazero.CompiledModule, error) {
	data, err := c.e.cfg.Blobs.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", key, err)
	}
	cm, err := c.e.rt.CompileModule(ctx, data)
	if err != nil {
		return nil, &HandlerError{Err: ErrInvalidHandler, Name: "compile", Message: fmt.Sprintf("malformed module: %v", err)}
	}
	return cm, nil
}

func (c *moduleCache) evictLocked() {
	for c.order.Len() > c.max {
		back := c.order.Back()
		key := back.Value.(string)
		ent := c.entries[key]
		c.order.Remove(back)
		delete(c.entries, key)
		select {
		case <-ent.ready:
			if ent.cm != nil {
				ent.cm.Close(context.Background())
			}
		default:
			ent.evicted = true
		}
	}
}

// Validate compiles data as a module a handler could run, for uploads.
func (e *Engine) Validate(ctx context.Context, data []byte) error {
	cm, err := e.rt.CompileModule(ctx, data)
	if err != nil {
		return &HandlerError{Err: ErrInvalidHandler, Name: "compile", Message: fmt.Sprintf("malformed module: %v", err)}
	}
	defer cm.Close(ctx)
	return checkModule(cm, e.cfg.MaxLimits)
}

// cappedBuffer keeps at most max bytes and notes if more came.
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.over = true
		p = p[:max(room, 0)]
	}
	b.buf.Write(p)
	return len(p), nil
}

// logWriter splits a module's stderr into capped log lines.
type logWriter struct {
	maxLines, maxBytes int
	lines              []string
	bytes              int
	dropped            int
	partial            []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(w.partial) < maxLogLine {
				w.partial = append(w.partial, p[:min(len(p), maxLogLine-len(w.partial))]...)
			}
			break
		}
		w.partial = append(w.partial, p[:min(i, max(0, maxLogLine-len(w.partial)))]...)
		w.add(string(w.partial))
		w.partial = w.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// maxLogLine is MAX_LOG_LINE in guest.c.
const maxLogLine = 2048

func (w *logWriter) add(line string) {
	if len(w.lines) >= w.maxLines || w.bytes >= w.maxBytes {
		w.dropped++
		return
	}
	line = truncate(line, w.maxBytes-w.bytes)
	w.lines = append(w.lines, line)
	w.bytes += len(line)
}

func (w *logWriter) result() ([]string, int) {
	if len(w.partial) > 0 {
		w.add(string(w.partial))
		w.partial = nil
	}
	return w.lines, w.dropped
}

func (w *logWriter) last() string {
	lines, _ := w.result()
	if len(lines) == 0 {
		return ""
	}
	return truncate(lines[len(lines)-1], 200)
}
