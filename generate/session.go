package generate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/casual-dev/casual/collab"
	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// Connector starts in-process peer sessions; *collab.Server is one.
type Connector interface {
	Connect(ctx context.Context, cred collab.Credentials) collab.Transport
}

// AIActor is the actor the AI peer connects as and records in
// meta.createdBy of what it creates.
const AIActor = "ai"

// session is one connection of the AI peer to one document. Each run (and
// each accept or revert) has its own, so a run's replica, sync state and
// presence live exactly as long as the run.
type session struct {
	c *client.Client
	h *client.Handle
	// bmu orders broadcasts: the client numbers ephemeral messages before
	// taking its send lock, and receivers drop a number lower than one
	// they saw, so concurrent broadcasts (heartbeat, cursor) could lose one.
	bmu sync.Mutex
}

// open connects as peer and finds app, or creates a new document when app
// is empty. ctx bounds connecting and finding; the session lives until
// close, or until the generator has closed.
func (g *Generator) open(ctx context.Context, peer string, app crdt.DocID) (*session, error) {
	// The server side of the session ends when the AI closes its end and
	// the server has read every frame sent before (a last presence
	// update); only the generator's end cuts it short.
	tr := g.conn.Connect(g.life, collab.Credentials{Actor: AIActor})
	c, err := client.New(ctx, tr, client.Options{PeerID: peer, Logger: g.log})
	if err != nil {
		return nil, fmt.Errorf("connect AI peer: %w", err)
	}
	s := &session{c: c}
	if app == "" {
		s.h, err = c.Create(ctx)
	} else {
		s.h, err = c.Find(ctx, app)
		if errors.Is(err, client.ErrUnavailable) {
			err = fmt.Errorf("%w: %s", ErrAppNotFound, app)
		}
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *session) close() { s.c.Close() }

// flush waits until the server has every change of the replica, so
// closing the session loses nothing. It uses its own deadline: a cancelled
// run still delivers the operations it completed.
func (s *session) flush(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, 30*time.Second)
	defer cancel()
	if err := s.h.WaitAcked(ctx); err != nil {
		return fmt.Errorf("sync AI edits: %w", err)
	}
	return nil
}

// waitHeads waits until the replica has every change in heads.
func (s *session) waitHeads(ctx context.Context, heads []crdt.Hash) error {
	return s.h.WaitFor(ctx, func(d *crdt.Doc) bool {
		for _, h := range heads {
			if !d.HasChange(h) {
				return false
			}
		}
		return true
	})
}

// presence is what the AI participant shows while it works, in the
// automerge-repo Presence format: the state is
// {kind:"ai", name, runId, status, cursor}, sent whole as a snapshot
// (when it starts, on status changes and as heartbeat) and as a cursor
// update when it moves to another component.
type presence struct {
	name, runID string
}

func (p presence) snapshot(status Status, cursor string) map[string]any {
	state := map[string]any{"kind": "ai", "name": p.name, "runId": p.runID, "status": string(status), "cursor": nilIfEmpty(cursor)}
	return map[string]any{"__presence": map[string]any{"type": "snapshot", "state": state}}
}

func (p presence) cursor(cursor string) map[string]any {
	return map[string]any{"__presence": map[string]any{"type": "update", "channel": "cursor", "value": nilIfEmpty(cursor)}}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// broadcast sends a presence message, CBOR-encoded as automerge-repo
// peers expect; presence is best effort, so a failure is logged, not
// returned.
func (g *Generator) broadcast(ctx context.Context, s *session, msg map[string]any) {
	data, err := cbor.Marshal(msg)
	if err == nil {
		s.bmu.Lock()
		err = s.h.Broadcast(ctx, data)
		s.bmu.Unlock()
	}
	if err != nil {
		g.log.Debug("AI presence", slog.String("doc", string(s.h.ID())), slog.Any("err", err))
	}
}
