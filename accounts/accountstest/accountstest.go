// Package accountstest is the contract every accounts.Store passes: run it
// from an implementation's tests with Run. It also holds fixtures the
// service and API tests share.
package accountstest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts"
)

// Open returns a fresh, empty store for one test; the store is closed by
// the test's cleanup.
type Open func(t *testing.T) accounts.Store

// Run runs the contract against stores made by open.
func Run(t *testing.T, open Open) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s accounts.Store)
	}{
		{"SigningKeyIsStable", testSigningKey},
		{"Users", testUsers},
		{"DeleteUserCascades", testDeleteUser},
		{"BackupCodesAndTOTPSteps", testOneUse},
		{"Sessions", testSessions},
		{"RefreshRotation", testRotation},
		{"RefreshReuseRevokesFamily", testReuse},
		{"ConcurrentRotationIsReuse", testConcurrentRotation},
		{"OneTimeTokens", testOneTimeTokens},
		{"Orgs", testOrgs},
		{"LastOwnerIsKept", testLastOwner},
		{"Apps", testApps},
		{"AppScope", testAppScope},
		{"AppFilters", testAppFilters},
		{"AppPagination", testAppPagination},
		{"Trash", testTrash},
		{"AppMembers", testAppMembers},
		{"PurgeApp", testPurge},
		{"Versions", testVersions},
		{"Shares", testShares},
		{"Audit", testAudit},
		{"Invitations", testInvitations},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// T0 is the time fixtures start at.
var T0 = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)

func at(minutes int) time.Time { return T0.Add(time.Duration(minutes) * time.Minute) }

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func same[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// NewUser returns a user fixture.
func NewUser(id string) accounts.User {
	return accounts.User{ID: id, Email: id + "@example.com", Name: "User " + id, PasswordHash: "hash-" + id,
		BackupCodes: []string{}, CreatedAt: T0, UpdatedAt: T0}
}

func addUsers(t *testing.T, s accounts.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		must(t, s.CreateUser(ctxOf(t), NewUser(id)))
	}
}
