package execute

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
)

// jsInstance is one warm QuickJS instance. Its guest runs in a goroutine
// the instance owns (InstantiateModule runs _start, which serves requests
// until stdin ends); close stops it and waits.
type jsInstance struct {
	stdin  *requestReader
	stdout *lineWriter
	stderr *tailWriter
	mem    *linearMemory
	stop   atomic.Bool // polled by the guest through casual.should_stop

	cancel context.CancelFunc
	done   chan struct{} // closed when the guest has stopped
	exit   error         // why it stopped; read after done

	uses int // runs served; touched only by the run holding the instance
}

// instanceKey finds the instance from a host function's context.
type instanceKey struct{}

// shouldStop is the host function casual.should_stop.
func shouldStop(ctx context.Context) int32 {
	if in, ok := ctx.Value(instanceKey{}).(*jsInstance); ok && in.stop.Load() {
		return 1
	}
	return 0
}

// startJS instantiates the engine and waits until the guest says ready.
func (e *Engine) startJS(ctx context.Context) (*jsInstance, error) {
	in := &jsInstance{
		stdin:  newRequestReader(),
		stdout: newLineWriter(e.maxLine),
		stderr: &tailWriter{max: 4 << 10},
		mem:    &linearMemory{},
		done:   make(chan struct{}),
	}
	// The instance outlives the ctx of whoever starts it: close ends it.
	ictx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	ictx = context.WithValue(ictx, instanceKey{}, in)
	ictx = experimental.WithMemoryAllocator(ictx, allocator{in.mem})
	cfg := wazero.NewModuleConfig().WithName("").WithArgs("quickjs").
		WithStdin(in.stdin).WithStdout(in.stdout).WithStderr(in.stderr).
		WithSysWalltime().WithSysNanotime().WithRandSource(rand.Reader)
	go func() {
		defer close(in.done)
		mod, err := e.rt.InstantiateModule(ictx, e.quickjs, cfg)
		if mod != nil {
			mod.Close(context.Background())
		}
		in.exit = err
		in.stdout.close()
	}()
	select {
	case line, ok := <-in.stdout.lines:
		if ok && bytes.Equal(line, []byte(`{"ready":true}`)) {
			return in, nil
		}
		in.close()
		return nil, fmt.Errorf("start quickjs: guest said %q (stderr %q)", truncate(string(line), 200), in.stderr.String())
	case <-in.done:
		in.close()
		return nil, fmt.Errorf("start quickjs: guest stopped: %v (stderr %q)", in.exit, in.stderr.String())
	case <-ctx.Done():
		in.close()
		return nil, fmt.Errorf("start quickjs: %w", ctx.Err())
	}
}

// guestRequest is one line to the guest (see execute/guest/guest.c).
type guestRequest struct {
	Source      string `json:"source"`
	Input       any    `json:"input"`
	State       any    `json:"state"`
	Event       any    `json:"event"`
	MemLimit    int64  `json:"mem_limit"`
	MaxOutput   int64  `json:"max_output"`
	MaxLogLines int    `json:"max_log_lines"`
	MaxLogBytes int64  `json:"max_log_bytes"`
}

// guestResponse is the guest's answer.
type guestResponse struct {
	OK     bool            `json:"ok"`
	Kind   string          `json:"kind"`
	Result json.RawMessage `json:"result"`
	Error  struct {
		Name    string `json:"name"`
		Message string `json:"message"`
		Stack   string `json:"stack"`
	} `json:"error"`
	Logs        []string `json:"logs"`
	LogsDropped int      `json:"logs_dropped"`
	MemPeak     int64    `json:"mem_peak"`
}

// jsHeadroom is linear memory allowed beyond the JavaScript heap limit:
// the guest's stack and data, allocator slack, and room to report an
// out-of-memory error after the heap limit is lifted.
const jsHeadroom = 16 << 20

// run sends one request and waits for its answer. broken reports that the
// instance must not serve again (a limit was hit, or it failed).
func (in *jsInstance) run(ctx context.Context, req []byte, lim Limits) (resp guestResponse, broken bool, err error) {
	in.uses++
	in.stop.Store(false)
	in.mem.limit.Store(lim.Memory + jsHeadroom)
	in.mem.refused.Store(false)
	soft := time.AfterFunc(lim.Timeout, func() { in.stop.Store(true) })
	defer soft.Stop()
	// The guest polls should_stop; if it does not answer within the grace,
	// it is stuck outside the interpreter and is killed.
	hard := time.NewTimer(lim.Timeout + max(100*time.Millisecond, lim.Timeout/4))
	defer hard.Stop()
	if !in.stdin.send(req) {
		return resp, true, fmt.Errorf("quickjs instance: stdin closed")
	}
	select {
	case line, ok := <-in.stdout.lines:
		if !ok {
			<-in.done
			return resp, true, in.failure(lim)
		}
		if in.stdout.overflowed() {
			return resp, true, outputError(lim, "the engine's answer was cut off")
		}
		if err := json.Unmarshal(line, &resp); err != nil {
			return resp, true, fmt.Errorf("quickjs instance: bad answer %q: %w", truncate(string(line), 200), err)
		}
		// An instance that broke a limit is never reused, even though
		// the guest recovered and answered.
		broken := in.stop.Load() || in.mem.refused.Load()
		switch resp.Kind {
		case "timeout", "memory", "stack", "output":
			broken = true
		}
		return resp, broken, nil
	case <-hard.C:
		return resp, true, timeoutError(lim, "killed: the engine did not stop at the deadline")
	case <-ctx.Done():
		return resp, true, fmt.Errorf("run: %w", ctx.Err())
	case <-in.done:
		return resp, true, in.failure(lim)
	}
}

// failure explains a guest that stopped during a run.
func (in *jsInstance) failure(lim Limits) error {
	<-in.done
	if in.mem.refused.Load() {
		return memoryError(lim, "the engine ran out of linear memory")
	}
	return &HandlerError{Err: ErrHandler, Name: "trap", Message: fmt.Sprintf("the engine crashed: %v %s", in.exit, in.stderr.String())}
}

// close stops the guest and waits for it.
func (in *jsInstance) close() {
	in.cancel()
	in.stdin.close()
	<-in.done
}

// requestReader is the guest's stdin: it hands over one request at a time
// and reports EOF once closed.
type requestReader struct {
	ch     chan []byte
	quit   chan struct{}
	once   sync.Once
	buf    []byte
	closed atomic.Bool
}

func newRequestReader() *requestReader {
	return &requestReader{ch: make(chan []byte, 1), quit: make(chan struct{})}
}

// send queues a request line; false if the reader is closed.
func (r *requestReader) send(line []byte) bool {
	if r.closed.Load() {
		return false
	}
	select {
	case r.ch <- line:
		return true
	case <-r.quit:
		return false
	}
}

// Read implements io.Reader for the guest.
func (r *requestReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		select {
		case b := <-r.ch:
			r.buf = b
		case <-r.quit:
			return 0, io.EOF
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *requestReader) close() {
	r.once.Do(func() {
		r.closed.Store(true)
		close(r.quit)
	})
}

// lineWriter is the guest's stdout: it splits it into lines, each at most
// max bytes (the rest of an overlong line is dropped and flagged).
type lineWriter struct {
	lines chan []byte
	max   int

	mu       sync.Mutex
	buf      []byte
	over     bool
	lastOver atomic.Bool
	closed   bool
}

func newLineWriter(max int) *lineWriter {
	return &lineWriter{lines: make(chan []byte, 2), max: max}
}

// Write implements io.Writer. It never blocks: the host reads one answer
// per request, so a guest that writes more lines is broken and its extra
// lines are dropped.
func (w *lineWriter) Write(p []byte) (int, error) {
	if w.write(p) {
		// The guest goes on preparing the next run; let the waiting host
		// goroutine take the answer first (else ~1 ms of delay).
		runtime.Gosched()
	}
	return len(p), nil
}

// write reports whether it completed a line.
func (w *lineWriter) write(p []byte) (sent bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if len(w.buf)+len(chunk) > w.max {
			w.over = true
		} else if !w.over {
			w.buf = append(w.buf, chunk...)
		}
		if i < 0 {
			break
		}
		line := w.buf
		w.lastOver.Store(w.over)
		w.buf, w.over = nil, false
		if !w.closed {
			select {
			case w.lines <- line:
				sent = true
			default:
			}
		}
		p = p[i+1:]
	}
	return sent
}

// overflowed reports whether the last line was cut at max.
func (w *lineWriter) overflowed() bool { return w.lastOver.Load() }

func (w *lineWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		close(w.lines)
	}
}

// tailWriter keeps the last max bytes written (a guest's stderr, for
// diagnostics).
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = append([]byte(nil), w.buf[len(w.buf)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
