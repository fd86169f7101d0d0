package accountstest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts"
)

func testSigningKey(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	keys := make(chan []byte, 4)
	for range 4 {
		go func() {
			k, err := s.SigningKey(ctx)
			if err != nil {
				t.Error(err)
			}
			keys <- k
		}()
	}
	first := <-keys
	for range 3 {
		same(t, <-keys, first)
	}
	if len(first) < 32 {
		t.Fatalf("key of %d bytes", len(first))
	}
	again, err := s.SigningKey(ctx)
	must(t, err)
	same(t, again, first)
}

func testUsers(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	u := NewUser("u1")
	u.LastLoginAt = at(3)
	u.BackupCodes = []string{"a", "b"}
	must(t, s.CreateUser(ctx, u))
	got, err := s.GetUser(ctx, "u1")
	must(t, err)
	same(t, got, u)
	got, err = s.GetUserByEmail(ctx, "u1@example.com")
	must(t, err)
	same(t, got, u)

	dup := NewUser("u2")
	dup.Email = u.Email
	wantErr(t, s.CreateUser(ctx, dup), accounts.ErrConflict)
	wantErr(t, s.CreateUser(ctx, NewUser("u1")), accounts.ErrConflict)
	_, err = s.GetUser(ctx, "nobody")
	wantErr(t, err, accounts.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, "nobody@example.com")
	wantErr(t, err, accounts.ErrNotFound)

	u.Email, u.Name, u.EmailVerified, u.TOTPSecret, u.TOTPEnabled = "new@example.com", "Renamed", true, "SECRET", true
	u.UpdatedAt = at(5)
	must(t, s.UpdateUser(ctx, u))
	got, err = s.GetUserByEmail(ctx, "new@example.com")
	must(t, err)
	same(t, got, u)
	_, err = s.GetUserByEmail(ctx, "u1@example.com")
	wantErr(t, err, accounts.ErrNotFound)

	must(t, s.CreateUser(ctx, NewUser("u3")))
	u.Email = "u3@example.com"
	wantErr(t, s.UpdateUser(ctx, u), accounts.ErrConflict)
	wantErr(t, s.UpdateUser(ctx, NewUser("ghost")), accounts.ErrNotFound)
}

func testDeleteUser(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "u1", "u2")
	sess := accounts.Session{ID: "s1", UserID: "u1", CreatedAt: T0, LastUsedAt: T0, ExpiresAt: at(60)}
	must(t, s.CreateSession(ctx, sess, accounts.RefreshToken{Hash: "h1", SessionID: "s1", UserID: "u1", CreatedAt: T0, ExpiresAt: at(60)}))
	must(t, s.CreateOrg(ctx, accounts.Org{ID: "o1", Name: "Org", CreatedAt: T0, UpdatedAt: T0},
		accounts.Member{OrgID: "o1", UserID: "u2", Role: accounts.RoleOwner, AddedAt: T0}))
	must(t, s.PutMember(ctx, accounts.Member{OrgID: "o1", UserID: "u1", Role: accounts.RoleEditor, AddedAt: T0}))
	must(t, s.CreateApp(ctx, app("a1", "u2", "")))
	must(t, s.PutAppMember(ctx, accounts.AppMember{AppID: "a1", UserID: "u1", Role: accounts.RoleViewer, AddedAt: T0}))
	must(t, s.CreateOneTimeToken(ctx, accounts.OneTimeToken{Hash: "ott", Kind: accounts.TokenVerifyEmail, UserID: "u1", CreatedAt: T0, ExpiresAt: at(60)}))

	must(t, s.DeleteUser(ctx, "u1"))
	_, err := s.GetUser(ctx, "u1")
	wantErr(t, err, accounts.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, "u1@example.com")
	wantErr(t, err, accounts.ErrNotFound)
	_, err = s.GetSession(ctx, "s1")
	wantErr(t, err, accounts.ErrNotFound)
	_, err = s.RotateRefreshToken(ctx, "h1", accounts.RefreshToken{Hash: "h2", CreatedAt: T0, ExpiresAt: at(90)}, at(1))
	wantErr(t, err, accounts.ErrNotFound)
	_, err = s.GetMember(ctx, "o1", "u1")
	wantErr(t, err, accounts.ErrNotFound)
	ms, err := s.ListMembers(ctx, "o1")
	must(t, err)
	if len(ms) != 1 || ms[0].UserID != "u2" {
		t.Fatalf("members after delete: %+v", ms)
	}
	_, err = s.GetAppMember(ctx, "a1", "u1")
	wantErr(t, err, accounts.ErrNotFound)
	_, err = s.ConsumeOneTimeToken(ctx, "ott", accounts.TokenVerifyEmail, T0)
	wantErr(t, err, accounts.ErrNotFound)
	// the email is free again
	must(t, s.CreateUser(ctx, NewUser("u1")))
	wantErr(t, s.DeleteUser(ctx, "ghost"), accounts.ErrNotFound)
}

func testOneUse(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	u := NewUser("u1")
	u.BackupCodes = []string{"c1", "c2"}
	must(t, s.CreateUser(ctx, u))
	must(t, s.UseBackupCode(ctx, "u1", "c1"))
	wantErr(t, s.UseBackupCode(ctx, "u1", "c1"), accounts.ErrNotFound)
	wantErr(t, s.UseBackupCode(ctx, "u1", "nope"), accounts.ErrNotFound)
	got, err := s.GetUser(ctx, "u1")
	must(t, err)
	same(t, got.BackupCodes, []string{"c2"})

	must(t, s.UseTOTPStep(ctx, "u1", 100))
	wantErr(t, s.UseTOTPStep(ctx, "u1", 100), accounts.ErrTokenReused)
	wantErr(t, s.UseTOTPStep(ctx, "u1", 99), accounts.ErrTokenReused)
	must(t, s.UseTOTPStep(ctx, "u1", 101))
	got, err = s.GetUser(ctx, "u1")
	must(t, err)
	if got.TOTPLastStep != 101 {
		t.Fatalf("last step %d", got.TOTPLastStep)
	}
}

func session(id, user string, created time.Time) (accounts.Session, accounts.RefreshToken) {
	return accounts.Session{ID: id, UserID: user, CreatedAt: created, LastUsedAt: created, ExpiresAt: created.Add(time.Hour), UserAgent: "ua", IP: "127.0.0.1"},
		accounts.RefreshToken{Hash: "h-" + id, SessionID: id, UserID: user, CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
}

func testSessions(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "u1", "u2")
	for i, id := range []string{"s1", "s2", "s3"} {
		sess, rt := session(id, "u1", at(i))
		must(t, s.CreateSession(ctx, sess, rt))
	}
	sess, rt := session("other", "u2", T0)
	must(t, s.CreateSession(ctx, sess, rt))
	ghost, rt := session("ghost", "nobody", T0)
	wantErr(t, s.CreateSession(ctx, ghost, rt), accounts.ErrNotFound)

	got, err := s.GetSession(ctx, "s1")
	must(t, err)
	want, _ := session("s1", "u1", T0)
	same(t, got, want)
	list, err := s.ListSessions(ctx, "u1")
	must(t, err)
	same(t, ids(list, func(s accounts.Session) string { return s.ID }), []string{"s3", "s2", "s1"})

	must(t, s.RevokeSession(ctx, "s2", at(10)))
	must(t, s.RevokeSession(ctx, "s2", at(20))) // again: no-op
	got, err = s.GetSession(ctx, "s2")
	must(t, err)
	if !got.RevokedAt.Equal(at(10)) {
		t.Fatalf("revoked at %v", got.RevokedAt)
	}
	list, err = s.ListSessions(ctx, "u1")
	must(t, err)
	same(t, ids(list, func(s accounts.Session) string { return s.ID }), []string{"s3", "s1"})
	wantErr(t, s.RevokeSession(ctx, "nope", T0), accounts.ErrNotFound)

	must(t, s.RevokeUserSessions(ctx, "u1", at(30)))
	list, err = s.ListSessions(ctx, "u1")
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("sessions left: %+v", list)
	}
	list, err = s.ListSessions(ctx, "u2")
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("other user's sessions: %+v", list)
	}
	_, err = s.RotateRefreshToken(ctx, "h-s1", accounts.RefreshToken{Hash: "x", CreatedAt: T0, ExpiresAt: at(90)}, at(31))
	wantErr(t, err, accounts.ErrTokenRevoked)
}

func testRotation(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "u1")
	sess, rt := session("s1", "u1", T0)
	must(t, s.CreateSession(ctx, sess, rt))
	next := accounts.RefreshToken{Hash: "h2", CreatedAt: at(5), ExpiresAt: at(120)}
	got, err := s.RotateRefreshToken(ctx, "h-s1", next, at(5))
	must(t, err)
	if got.ID != "s1" || !got.LastUsedAt.Equal(at(5)) || !got.ExpiresAt.Equal(at(120)) {
		t.Fatalf("session after rotation: %+v", got)
	}
	stored, err := s.GetSession(ctx, "s1")
	must(t, err)
	same(t, stored, got)
	// the new token rotates in turn
	_, err = s.RotateRefreshToken(ctx, "h2", accounts.RefreshToken{Hash: "h3", CreatedAt: at(6), ExpiresAt: at(130)}, at(6))
	must(t, err)
	_, err = s.RotateRefreshToken(ctx, "unknown", accounts.RefreshToken{Hash: "h4", CreatedAt: at(6), ExpiresAt: at(130)}, at(6))
	wantErr(t, err, accounts.ErrNotFound)
	// expired
	_, err = s.RotateRefreshToken(ctx, "h3", accounts.RefreshToken{Hash: "h5", CreatedAt: at(200), ExpiresAt: at(300)}, at(130))
	wantErr(t, err, accounts.ErrTokenExpired)
}

func testReuse(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "u1")
	sess, rt := session("s1", "u1", T0)
	must(t, s.CreateSession(ctx, sess, rt))
	_, err := s.RotateRefreshToken(ctx, "h-s1", accounts.RefreshToken{Hash: "h2", CreatedAt: at(1), ExpiresAt: at(60)}, at(1))
	must(t, err)
	got, err := s.RotateRefreshToken(ctx, "h-s1", accounts.RefreshToken{Hash: "h3", CreatedAt: at(2), ExpiresAt: at(60)}, at(2))
	wantErr(t, err, accounts.ErrTokenReused)
	if got.ID != "s1" {
		t.Fatalf("reuse returned session %+v", got)
	}
	stored, err := s.GetSession(ctx, "s1")
	must(t, err)
	if !stored.RevokedAt.Equal(at(2)) {
		t.Fatalf("family not revoked: %+v", stored)
	}
	// the legitimate newer token is dead too
	_, err = s.RotateRefreshToken(ctx, "h2", accounts.RefreshToken{Hash: "h4", CreatedAt: at(3), ExpiresAt: at(60)}, at(3))
	wantErr(t, err, accounts.ErrTokenRevoked)
	// and the reuser's replacement was never stored
	_, err = s.RotateRefreshToken(ctx, "h3", accounts.RefreshToken{Hash: "h5", CreatedAt: at(3), ExpiresAt: at(60)}, at(3))
	wantErr(t, err, accounts.ErrNotFound)
}

func testOneTimeTokens(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "u1")
	tok := accounts.OneTimeToken{Hash: "t1", Kind: accounts.TokenResetPassword, UserID: "u1", Email: "u1@example.com", CreatedAt: T0, ExpiresAt: at(60)}
	must(t, s.CreateOneTimeToken(ctx, tok))
	_, err := s.ConsumeOneTimeToken(ctx, "t1", accounts.TokenVerifyEmail, at(1))
	wantErr(t, err, accounts.ErrNotFound)
	got, err := s.ConsumeOneTimeToken(ctx, "t1", accounts.TokenResetPassword, at(1))
	must(t, err)
	same(t, got, tok)
	_, err = s.ConsumeOneTimeToken(ctx, "t1", accounts.TokenResetPassword, at(1))
	wantErr(t, err, accounts.ErrNotFound)

	tok.Hash = "t2"
	must(t, s.CreateOneTimeToken(ctx, tok))
	_, err = s.ConsumeOneTimeToken(ctx, "t2", accounts.TokenResetPassword, at(60))
	wantErr(t, err, accounts.ErrTokenExpired)
	_, err = s.ConsumeOneTimeToken(ctx, "t2", accounts.TokenResetPassword, at(1))
	wantErr(t, err, accounts.ErrNotFound)
}

func testConcurrentRotation(t *testing.T, s accounts.Store) {
	ctx := ctxOf(t)
	addUsers(t, s, "u1")
	sess, rt := session("s1", "u1", T0)
	must(t, s.CreateSession(ctx, sess, rt))
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, err := s.RotateRefreshToken(ctx, "h-s1", accounts.RefreshToken{Hash: fmt.Sprintf("next-%d", i), CreatedAt: at(1), ExpiresAt: at(60)}, at(1))
			errs <- err
		}()
	}
	a, b := <-errs, <-errs
	if (a == nil) == (b == nil) || !errors.Is(a, accounts.ErrTokenReused) && !errors.Is(b, accounts.ErrTokenReused) {
		t.Fatalf("two exchanges of one token: %v and %v, want one success and one reuse", a, b)
	}
	got, err := s.GetSession(ctx, "s1")
	must(t, err)
	if got.RevokedAt.IsZero() {
		t.Fatal("the race did not revoke the family")
	}
}
