package execute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// Options configures an Executor: the engine, the peer, the history and the
// module store, wired together.
type Options struct {
	// DataDir holds the history (executions.db), uploaded modules (blobs/)
	// and the compilation cache (wazero-cache/). Empty: all in memory.
	DataDir string
	// QuickJSPath is the engine's WASM (default $CASUAL_QUICKJS_WASM, else
	// build/quickjs.wasm). A missing file leaves JavaScript unavailable,
	// with a warning, rather than failing the server.
	QuickJSPath string
	// Dial connects the peer to the sync server (see PeerConfig.Dial).
	Dial func(ctx context.Context) (client.Transport, error)
	// NodeID names this executor (PeerConfig.ID); default random.
	NodeID string
	// Engine, Peer: further settings; their Blobs, Dial, Engine, History
	// and ID fields are filled from the above.
	Engine Config
	Peer   PeerConfig
	// History replaces the default (bbolt under DataDir, else memory):
	// executors on several nodes should share one (execute/postgres).
	History History
	// Blobs replaces the default module store (DataDir/blobs, else memory).
	Blobs BlobStore
	// Authorize, if set, is asked before each API request: write is true
	// for requests that queue runs or upload modules. A non-nil error is
	// answered 403 (or 401 if it wraps ErrUnauthenticated).
	Authorize func(r *http.Request, app string, write bool) error
	// AuthorizeRun, if set, decides who may queue a run through the API
	// (POST /v1/apps/{id}/execute) instead of Authorize(r, app, true):
	// a run-mode embed may start handlers without write access to the app.
	AuthorizeRun func(r *http.Request, app string) error
	Registerer   prometheus.Registerer
	Logger       *slog.Logger
}

// ErrUnauthenticated is for Options.Authorize: the request has no valid
// credentials (answered 401; other errors are 403).
var ErrUnauthenticated = errors.New("unauthenticated")

// Executor is the executor of one server node: the Engine, the Peer that
// watches documents, the execution History and the module BlobStore, and
// their HTTP API (Routes).
type Executor struct {
	Engine  *Engine
	Peer    *Peer
	History History
	Blobs   BlobStore

	opts Options
	log  *slog.Logger
}

// Open starts an executor. Close it before shutting the sync server down.
func Open(ctx context.Context, opts Options) (*Executor, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	x := &Executor{opts: opts, log: opts.Logger, History: opts.History, Blobs: opts.Blobs}
	if err := x.openStores(); err != nil {
		return nil, err
	}
	ecfg := opts.Engine
	ecfg.Blobs, ecfg.Logger, ecfg.Registerer = x.Blobs, opts.Logger, opts.Registerer
	if ecfg.CacheDir == "" && opts.DataDir != "" {
		ecfg.CacheDir = filepath.Join(opts.DataDir, "wazero-cache")
	}
	if len(ecfg.QuickJS) == 0 {
		b, err := LoadQuickJS(opts.QuickJSPath)
		if err != nil {
			x.log.Warn("javascript handlers unavailable", slog.Any("err", err))
		}
		ecfg.QuickJS = b
	}
	eng, err := New(ctx, ecfg)
	if err != nil {
		x.History.Close()
		return nil, fmt.Errorf("executor: %w", err)
	}
	x.Engine = eng
	pcfg := opts.Peer
	pcfg.Dial, pcfg.Engine, pcfg.History, pcfg.Logger = opts.Dial, eng, x.History, opts.Logger
	if opts.NodeID != "" {
		pcfg.ID = opts.NodeID
	}
	peer, err := NewPeer(ctx, pcfg)
	if err != nil {
		eng.Close(context.Background())
		x.History.Close()
		return nil, fmt.Errorf("executor: %w", err)
	}
	x.Peer = peer
	return x, nil
}

func (x *Executor) openStores() error {
	if x.opts.DataDir != "" {
		if err := os.MkdirAll(x.opts.DataDir, 0o755); err != nil {
			return fmt.Errorf("executor: %w", err)
		}
	}
	if x.Blobs == nil {
		if x.opts.DataDir == "" {
			x.Blobs = NewMemBlobs()
		} else {
			b, err := OpenDirBlobs(filepath.Join(x.opts.DataDir, "blobs"))
			if err != nil {
				return fmt.Errorf("executor: %w", err)
			}
			x.Blobs = b
		}
	}
	if x.History == nil {
		if x.opts.DataDir == "" {
			x.History = NewMemHistory(0)
		} else {
			h, err := OpenBoltHistory(filepath.Join(x.opts.DataDir, "executions.db"))
			if err != nil {
				return fmt.Errorf("executor: %w", err)
			}
			x.History = h
		}
	}
	return nil
}

// Close stops the peer, then the engine, then the history.
func (x *Executor) Close(ctx context.Context) error {
	return errors.Join(x.Peer.Close(), x.Engine.Close(ctx), x.History.Close())
}

// ExecuteRequest asks for one run through the API.
type ExecuteRequest struct {
	Handler string `json:"handler"`
	Input   any    `json:"input,omitempty"`
	Event   any    `json:"event,omitempty"`
	By      string `json:"-"`
}

// Execute queues a run of a handler in app's document, as a client would,
// and returns its record (status queued). The run is executed by whichever
// executor claims it; Wait returns its result.
func (x *Executor) Execute(ctx context.Context, app crdt.DocID, req ExecuteRequest) (Record, error) {
	h, err := x.Peer.Watch(ctx, app)
	if err != nil {
		return Record{}, err
	}
	// A handler created a moment ago by another peer may still be on its
	// way to this replica.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	h.WaitFor(wctx, func(d *crdt.Doc) bool {
		v, _ := d.Get("handlers", req.Handler)
		return v != nil
	})
	cancel()
	now := time.Now()
	rec := Record{ID: NewRunID(), App: string(app), Handler: req.Handler, Status: StatusQueued,
		Input: req.Input, By: req.By, QueuedAt: now.Truncate(time.Millisecond)}
	if err := x.History.Put(ctx, rec); err != nil {
		return Record{}, err
	}
	err = h.Change(ctx, "execute: queue "+rec.ID, func(d *crdt.Doc) error {
		_, err := QueueRun(d, RunRequest{ID: rec.ID, Handler: req.Handler, Input: req.Input, Event: req.Event, By: req.By, At: now})
		return err
	})
	if err != nil {
		rec.Status, rec.Error = StatusFailed, &RunError{Code: "invalid", Message: err.Error()}
		x.History.Put(context.WithoutCancel(ctx), rec)
		return rec, err
	}
	return rec, nil
}

// Wait returns the record of run id of app once it has finished, read from
// the document (so it works whichever executor ran it).
func (x *Executor) Wait(ctx context.Context, app crdt.DocID, id string) (Record, error) {
	h, err := x.Peer.Watch(ctx, app)
	if err != nil {
		return Record{}, err
	}
	var r docRun
	err = h.WaitFor(ctx, func(d *crdt.Doc) bool {
		var ok bool
		r, ok = readRun(d, id)
		return ok && r.finished()
	})
	if err != nil {
		return Record{}, fmt.Errorf("wait for run %s: %w", id, err)
	}
	return recordFromDoc(app, r), nil
}

// recordFromDoc builds a record from a run as the document shows it.
func recordFromDoc(app crdt.DocID, r docRun) Record {
	rec := Record{ID: r.ID, App: string(app), Handler: r.Handler, Status: r.Status, Input: r.Input,
		Output: r.Output, By: r.By, Executor: r.Executor, QueuedAt: time.UnixMilli(int64(r.At))}
	for _, l := range r.Logs {
		rec.Logs = append(rec.Logs, str(l))
	}
	if r.Error != nil {
		rec.Error = &RunError{Code: str(r.Error["code"]), Message: str(r.Error["message"])}
	}
	rec.DurationMs, _ = number(r.Metrics["durationMs"])
	mem, _ := number(r.Metrics["memoryBytes"])
	rec.MemoryBytes = int64(mem)
	rec.Cost = max(mem/(1<<20), 1) * rec.DurationMs / 1000
	return rec
}
