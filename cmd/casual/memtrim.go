package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/casual-dev/casual/crdt"
)

// trimWhenIdle returns memory to the operating system whenever a whole
// interval passes without a protocol message: a forced Go GC (whose
// finalizers also free Automerge's C results), the Go heap's free pages,
// then the C heap's (crdt.TrimMemory). A server holding many idle
// connections then stays at what it really uses; a busy one is left to its
// collectors. It returns when ctx ends.
func trimWhenIdle(ctx context.Context, every time.Duration, received func() uint64, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	last, trimmed := received(), false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := received()
		if now != last {
			last, trimmed = now, false
			continue
		}
		if trimmed {
			continue // nothing happened since the last trim
		}
		start := time.Now()
		debug.FreeOSMemory()
		crdt.TrimMemory()
		trimmed = true
		log.Debug("idle: memory returned to the OS", slog.Duration("took", time.Since(start)))
	}
}
