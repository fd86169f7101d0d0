package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/casual-dev/casual/collab/client"
	"github.com/casual-dev/casual/crdt"
)

// TestKillNineLosesNoAcknowledgedChange makes changes, waits for each to be
// acknowledged (the server's sync reply covers the client's heads), kills
// the server with SIGKILL, restarts it and finds every change.
func TestKillNineLosesNoAcknowledgedChange(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	addr, dir := freeAddr(t), t.TempDir()
	p := startProc(t, addr, dir)
	url := "ws://" + addr + "/sync"

	connect := func() *client.Client {
		tr, err := client.DialWebSocket(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.New(ctx, tr, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := connect()
	h, err := c.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := 0; i < n; i++ {
		if err := h.Change(ctx, "", func(d *crdt.Doc) error { return d.Set([]any{fmt.Sprintf("k%03d", i)}, int64(i)) }); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 || i == n-1 {
			if err := h.WaitAcked(ctx); err != nil {
				select {
				case e := <-c.Errors():
					t.Fatalf("%v; server said %s: %s", err, e.Code, e.Message)
				default:
				}
				t.Fatal(err)
			}
		}
	}
	p.kill()

	startProc(t, addr, dir)
	h2, err := connect().Find(ctx, h.ID())
	if err != nil {
		t.Fatal(err)
	}
	h2.Read(func(d *crdt.Doc) {
		for i := 0; i < n; i++ {
			if v, _ := d.Get(fmt.Sprintf("k%03d", i)); v != int64(i) {
				t.Errorf("k%03d = %v after kill -9", i, v)
			}
		}
	})
}
