package accountstest

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts"
	accembedded "github.com/casual-dev/casual/accounts/embedded"
	accpostgres "github.com/casual-dev/casual/accounts/postgres"
	"github.com/casual-dev/casual/rooms"
	"github.com/casual-dev/casual/store"
	"github.com/casual-dev/casual/store/embedded"
	"github.com/casual-dev/casual/store/postgres"
)

// Clock is a settable clock for Config.Clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Outbox is a Mailer that keeps what it is given.
type Outbox struct {
	mu   sync.Mutex
	mail []accounts.Mail
}

// Send implements accounts.Mailer.
func (o *Outbox) Send(_ context.Context, m accounts.Mail) error {
	o.mu.Lock()
	o.mail = append(o.mail, m)
	o.mu.Unlock()
	return nil
}

// Last returns the newest mail of kind to an address.
func (o *Outbox) Last(kind, to string) (accounts.Mail, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range slices.Backward(o.mail) {
		if m.Kind == kind && m.To == to {
			return m, true
		}
	}
	return accounts.Mail{}, false
}

// Stores lists the store kinds a Stack can run on.
func Stores() []string { return []string{"embedded", "postgres"} }

// Stack is the accounts service over a real document store and rooms, as
// the server wires it.
type Stack struct {
	Docs    store.Store
	Rooms   *rooms.Manager
	Store   accounts.Store
	Service *accounts.Service
	Clock   *Clock
	Outbox  *Outbox
}

// CheapArgon2 keeps password hashing fast in tests.
func CheapArgon2() accounts.Argon2Params {
	return accounts.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// NewStack builds a stack on kind ("embedded" or "postgres"; postgres
// skips the test when no server answers, unless CI=true). tweak adjusts
// the service's configuration before New.
func NewStack(t testing.TB, kind string, tweak func(*accounts.Config)) *Stack {
	t.Helper()
	ctx := context.Background()
	st := &Stack{Clock: NewClock(T0), Outbox: &Outbox{}}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	switch kind {
	case "embedded":
		dir := t.TempDir()
		docs, err := embedded.Open(ctx, dir, embedded.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		acc, err := accembedded.OpenDir(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		st.Docs, st.Store = docs, acc
	case "postgres":
		docs, err := postgres.Open(ctx, PostgresSchema(t), postgres.Options{Logger: log, AutoMigrate: true, MaxConns: 6})
		if err != nil {
			t.Fatal(err)
		}
		acc, err := accpostgres.New(ctx, docs.Pool(), accpostgres.Options{AutoMigrate: true})
		if err != nil {
			t.Fatal(err)
		}
		st.Docs, st.Store = docs, acc
	default:
		t.Fatalf("unknown store kind %q", kind)
	}
	st.Rooms = rooms.NewManager(st.Docs, rooms.Config{Logger: log}, time.Second)
	cfg := accounts.Config{Store: st.Store, Rooms: st.Rooms, Docs: st.Docs, Mailer: st.Outbox, Clock: st.Clock.Now,
		Argon2: CheapArgon2(), Logger: log}
	if tweak != nil {
		tweak(&cfg)
	}
	svc, err := accounts.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st.Service = svc
	t.Cleanup(func() {
		st.Rooms.Close()
		if err := st.Store.Close(); err != nil {
			t.Errorf("close accounts: %v", err)
		}
		if err := st.Docs.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("close docs: %v", err)
		}
	})
	return st
}

// Each runs fn once per store kind, as a parallel subtest.
func Each(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range Stores() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, kind)
		})
	}
}
