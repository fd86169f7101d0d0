package execute

import (
	"errors"
	"fmt"
	"time"
)

// Errors callers branch on. A run that breaks a limit fails with a
// *LimitError wrapping one of the first four; errors.Is works on both.
var (
	// ErrTimeout: the run went past its wall-time limit.
	ErrTimeout = errors.New("wall time limit exceeded")
	// ErrMemory: the run needed more memory than its limit.
	ErrMemory = errors.New("memory limit exceeded")
	// ErrOutputTooLarge: the result (output plus state patch) is larger
	// than the output limit.
	ErrOutputTooLarge = errors.New("output limit exceeded")
	// ErrStackOverflow: recursion went deeper than the engine's stack.
	ErrStackOverflow = errors.New("stack limit exceeded")

	// ErrHandler: the handler threw, rejected, or the module exited with an
	// error; a *HandlerError says what it threw.
	ErrHandler = errors.New("handler failed")
	// ErrInvalidHandler: the handler cannot run as written (syntax error,
	// no default-exported function, a result that is not {output?,
	// state?}, a malformed WASM module, imports it may not have).
	ErrInvalidHandler = errors.New("invalid handler")
	// ErrExecutorLost: the executors that started a run stopped renewing
	// its lease MaxAttempts times (see Peer); code "executor_lost".
	ErrExecutorLost = errors.New("executor lost")
	// ErrQueueFull: more runs are waiting than Config.MaxQueue allows.
	ErrQueueFull = errors.New("execution queue full")
	// ErrClosed: the engine or peer was closed.
	ErrClosed = errors.New("executor closed")
	// ErrNotFound: no such execution, module or handler.
	ErrNotFound = errors.New("not found")
)

// LimitError reports which limit a run broke and its figure.
type LimitError struct {
	Err    error  // ErrTimeout, ErrMemory, ErrOutputTooLarge or ErrStackOverflow
	Limit  string // "wall time", "memory", "output", "stack"
	Figure string // the limit, e.g. "1s", "64 MiB"
	Detail string // what the engine said, if anything
}

func (e *LimitError) Error() string {
	s := fmt.Sprintf("%s limit of %s exceeded", e.Limit, e.Figure)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the sentinel.
func (e *LimitError) Unwrap() error { return e.Err }

// HandlerError is what a handler threw or a module reported.
type HandlerError struct {
	Err     error  // ErrHandler or ErrInvalidHandler
	Name    string // "TypeError", "SyntaxError", "exit", "trap"...
	Message string
	Stack   string
}

func (e *HandlerError) Error() string {
	if e.Name == "" {
		return e.Message
	}
	return e.Name + ": " + e.Message
}

// Unwrap returns the sentinel.
func (e *HandlerError) Unwrap() error { return e.Err }

// Limits bound one run. Zero fields take the engine's defaults.
type Limits struct {
	// Timeout is the wall-time limit (default 1 s).
	Timeout time.Duration
	// Memory caps the JavaScript heap, or a WASM module's linear memory
	// (default 64 MiB).
	Memory int64
	// Output caps the JSON of the result: output plus state patch
	// (default 1 MiB).
	Output int64
	// LogLines and LogBytes cap captured console/stderr lines (defaults
	// 100 lines, 64 KiB); what is over is dropped and counted.
	LogLines int
	LogBytes int64
}

// DefaultLimits returns the limits a run gets when neither it nor the
// engine's Config sets any: 1 s, 64 MiB, 1 MiB of output, 100 log lines
// or 64 KiB of logs.
func DefaultLimits() Limits {
	return Limits{Timeout: time.Second, Memory: 64 << 20, Output: 1 << 20, LogLines: 100, LogBytes: 64 << 10}
}

// orDefault fills l's zero fields from d.
func (l Limits) orDefault(d Limits) Limits {
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	if l.Memory <= 0 {
		l.Memory = d.Memory
	}
	if l.Output <= 0 {
		l.Output = d.Output
	}
	if l.LogLines <= 0 {
		l.LogLines = d.LogLines
	}
	if l.LogBytes <= 0 {
		l.LogBytes = d.LogBytes
	}
	return l
}

// capped returns l with every field at most max's.
func (l Limits) capped(max Limits) Limits {
	l.Timeout = min(l.Timeout, max.Timeout)
	l.Memory = min(l.Memory, max.Memory)
	l.Output = min(l.Output, max.Output)
	l.LogLines = min(l.LogLines, max.LogLines)
	l.LogBytes = min(l.LogBytes, max.LogBytes)
	return l
}

func timeoutError(l Limits, detail string) error {
	return &LimitError{Err: ErrTimeout, Limit: "wall time", Figure: l.Timeout.String(), Detail: detail}
}

func memoryError(l Limits, detail string) error {
	return &LimitError{Err: ErrMemory, Limit: "memory", Figure: bytesFigure(l.Memory), Detail: detail}
}

func outputError(l Limits, detail string) error {
	return &LimitError{Err: ErrOutputTooLarge, Limit: "output", Figure: bytesFigure(l.Output), Detail: detail}
}

func stackError(detail string) error {
	return &LimitError{Err: ErrStackOverflow, Limit: "stack", Figure: bytesFigure(jsStackLimit), Detail: detail}
}

// jsStackLimit is STACK_LIMIT in guest.c.
const jsStackLimit = 768 << 10

func bytesFigure(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
