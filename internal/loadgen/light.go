package loadgen

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/collab/wire"
	"github.com/casual-dev/casual/crdt"
)

// sentPrefix starts the commit message of every bench update; the rest is
// its send time in Unix nanoseconds, which light readers read from the
// change header without applying the change.
const sentPrefix = "sent="

// lightReader is a reading client that holds no document. It speaks the
// same protocol (join, request, sync) but only takes each sync message
// apart: it tracks the change graph's heads from the change headers, reads
// each update's send time from its commit message, and answers with its
// heads, which is all the server needs to know what it has. It costs the
// load generator a small fraction of a full replica's CPU, so a one-machine
// run measures the server rather than the clients.
type lightReader struct {
	t      client.Transport
	peerID string
	server string // the server's peer id
	doc    crdt.DocID

	done chan struct{} // closed when the read loop returns

	mu        sync.Mutex
	known     map[crdt.Hash]bool
	heads     map[crdt.Hash]bool
	lat       []time.Duration
	remaining int           // updates not yet seen
	seen      chan struct{} // closed when remaining reaches 0
	err       error
}

// openLight joins over t and requests doc; its read loop runs until Close.
func openLight(ctx context.Context, t client.Transport, peerID string, doc crdt.DocID, expect int) (*lightReader, error) {
	l := &lightReader{t: t, peerID: peerID, doc: doc, done: make(chan struct{}),
		known: map[crdt.Hash]bool{}, heads: map[crdt.Hash]bool{}, remaining: expect, seen: make(chan struct{})}
	if expect == 0 {
		close(l.seen)
	}
	if err := l.send(ctx, &wire.Message{Type: wire.TypeJoin, SenderID: peerID,
		SupportedProtocolVersions: []string{wire.ProtocolV1}, PeerMetadata: &wire.PeerMetadata{IsEphemeral: true}}); err != nil {
		return nil, err
	}
	for l.server == "" {
		m, err := l.recv(ctx)
		if err != nil {
			return nil, fmt.Errorf("join: %w", err)
		}
		switch m.Type {
		case wire.TypePeer:
			l.server = m.SenderID
		case wire.TypeError:
			return nil, fmt.Errorf("join: server error %s: %s", m.Code, m.Message)
		}
	}
	req := crdt.SyncMessage{Have: []crdt.SyncHave{{}}} // an empty peer
	if err := l.send(ctx, &wire.Message{Type: wire.TypeRequest, SenderID: peerID, TargetID: l.server,
		DocumentID: string(doc), Data: req.Encode()}); err != nil {
		return nil, err
	}
	go l.loop()
	return l, nil
}

func (l *lightReader) send(ctx context.Context, m *wire.Message) error {
	b, err := wire.Encode(m)
	if err != nil {
		return err
	}
	return l.t.Send(ctx, b)
}

func (l *lightReader) recv(ctx context.Context) (*wire.Message, error) {
	b, err := l.t.Recv(ctx)
	if err != nil {
		return nil, err
	}
	return wire.Decode(b)
}

// loop reads until the transport closes.
func (l *lightReader) loop() {
	defer close(l.done)
	ctx := context.Background()
	for {
		m, err := l.recv(ctx)
		if err == nil {
			err = l.handle(ctx, m)
		}
		if err != nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			return
		}
	}
}

func (l *lightReader) handle(ctx context.Context, m *wire.Message) error {
	switch m.Type {
	case wire.TypeSync:
	case wire.TypeError:
		return fmt.Errorf("server error %s: %s", m.Code, m.Message)
	case wire.TypeDocUnavailable:
		return fmt.Errorf("document %s unavailable", l.doc)
	default:
		return nil // presence, peers: not measured here
	}
	now := time.Now()
	sm, err := crdt.ParseSyncMessage(m.Data)
	if err != nil {
		return err
	}
	l.mu.Lock()
	fresh := false
	for _, raw := range sm.Changes {
		c, err := crdt.ParseChange(raw)
		if err != nil {
			l.mu.Unlock()
			return err
		}
		if l.known[c.Hash] {
			continue
		}
		fresh = true
		l.known[c.Hash] = true
		for _, d := range c.Deps {
			delete(l.heads, d)
		}
		l.heads[c.Hash] = true
		if ns, ok := strings.CutPrefix(c.Message, sentPrefix); ok {
			if sent, err := strconv.ParseInt(ns, 10, 64); err == nil {
				l.lat = append(l.lat, max(now.Sub(time.Unix(0, sent)), 0))
				if l.remaining--; l.remaining == 0 {
					close(l.seen)
				}
			}
		}
	}
	unknown := slices.ContainsFunc(sm.Heads, func(h crdt.Hash) bool { return !l.known[h] })
	heads := l.headsLocked()
	l.mu.Unlock()
	if !fresh && !unknown {
		return nil // nothing new either way: no answer, as an in-sync peer
	}
	reply := crdt.SyncMessage{Heads: heads, Have: []crdt.SyncHave{{LastSync: heads}}}
	return l.send(ctx, &wire.Message{Type: wire.TypeSync, SenderID: l.peerID, TargetID: l.server,
		DocumentID: string(l.doc), Data: reply.Encode()})
}

func (l *lightReader) headsLocked() []crdt.Hash {
	hs := make([]crdt.Hash, 0, len(l.heads))
	for h := range l.heads {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, func(a, b crdt.Hash) int { return strings.Compare(string(a[:]), string(b[:])) })
	return hs
}

// Heads returns the heads of the changes seen so far, sorted.
func (l *lightReader) Heads() []crdt.Hash {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.headsLocked()
}

// Has reports whether the change h was seen.
func (l *lightReader) Has(h crdt.Hash) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.known[h]
}

// waitSeen waits until every expected update was seen, or ctx ends, and
// returns the latencies and how many are missing.
func (l *lightReader) waitSeen(ctx context.Context) ([]time.Duration, int, error) {
	var err error
	select {
	case <-l.seen:
	case <-l.done:
		err = l.Err()
	case <-ctx.Done():
		err = ctx.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lat), l.remaining, err
}

// Err reports why the read loop stopped, if it did.
func (l *lightReader) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close ends the connection and waits for the read loop.
func (l *lightReader) Close() error {
	err := l.t.Close()
	<-l.done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// waitHas waits until every change in want was seen.
func (l *lightReader) waitHas(ctx context.Context, want []crdt.Hash) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		l.mu.Lock()
		all := !slices.ContainsFunc(want, func(h crdt.Hash) bool { return !l.known[h] })
		err := l.err
		l.mu.Unlock()
		if all {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
