package accounts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
)

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		st := accountstest.NewStack(t, kind, nil)
		ctx, svc := ctxOf(t), st.Service
		ann := register(t, st, "ann")
		next, err := svc.Refresh(ctx, ann.tokens.RefreshToken)
		must(t, err)
		if next.RefreshToken == ann.tokens.RefreshToken || next.SessionID != ann.tokens.SessionID {
			t.Fatalf("rotation gave %+v", next)
		}
		if _, err := svc.Authenticate(ctx, next.AccessToken); err != nil {
			t.Fatal(err)
		}
		// a thief replays the first refresh token
		_, err = svc.Refresh(ctx, ann.tokens.RefreshToken)
		wantErr(t, err, accounts.ErrTokenReused)
		// the whole family is dead: the newest refresh token and every access token
		_, err = svc.Refresh(ctx, next.RefreshToken)
		wantErr(t, err, accounts.ErrTokenRevoked)
		_, err = svc.Authenticate(ctx, next.AccessToken)
		wantErr(t, err, accounts.ErrTokenRevoked)
		_, err = svc.Authenticate(ctx, ann.tokens.AccessToken)
		wantErr(t, err, accounts.ErrTokenRevoked)
		// other sessions live on
		_, other, err := svc.Login(ctx, accounts.LoginInput{Email: "ann@example.com", Password: password})
		must(t, err)
		_, err = svc.Refresh(ctx, other.RefreshToken)
		must(t, err)
		_, err = svc.Refresh(ctx, "never-issued")
		wantErr(t, err, accounts.ErrTokenInvalid)
		p, err := svc.Authenticate(ctx, other.AccessToken)
		must(t, err)
		events, err := svc.Activity(ctx, p, "me", "", 10)
		must(t, err)
		if len(events) == 0 || events[0].Action != accounts.AuditLogin || !hasAction(events, accounts.AuditRefreshReused) {
			t.Fatalf("activity: %+v", events)
		}
	})
}

func TestTamperedExpiredAndRevokedTokensAreRefused(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		st := accountstest.NewStack(t, kind, nil)
		ctx, svc := ctxOf(t), st.Service
		ann := register(t, st, "ann")
		parts := strings.Split(ann.tokens.AccessToken, ".")
		tampered := parts[0] + "." + parts[1] + "x." + parts[2]
		_, err := svc.Authenticate(ctx, tampered)
		wantErr(t, err, accounts.ErrTokenInvalid)
		_, err = svc.Authenticate(ctx, parts[0]+"."+parts[1]+"."+strings.ToUpper(parts[2]))
		wantErr(t, err, accounts.ErrTokenInvalid)

		st.Clock.Advance(15 * time.Minute)
		_, err = svc.Authenticate(ctx, ann.tokens.AccessToken)
		wantErr(t, err, accounts.ErrTokenExpired)
		fresh, err := svc.Refresh(ctx, ann.tokens.RefreshToken)
		must(t, err)
		p, err := svc.Authenticate(ctx, fresh.AccessToken)
		must(t, err)
		must(t, svc.Logout(ctx, p))
		_, err = svc.Authenticate(ctx, fresh.AccessToken)
		wantErr(t, err, accounts.ErrTokenRevoked)
		_, err = svc.Refresh(ctx, fresh.RefreshToken)
		wantErr(t, err, accounts.ErrTokenRevoked)

		// refresh tokens expire after 7 days
		_, late, err := svc.Login(ctx, accounts.LoginInput{Email: "ann@example.com", Password: password})
		must(t, err)
		st.Clock.Advance(7*24*time.Hour + time.Second)
		_, err = svc.Refresh(ctx, late.RefreshToken)
		wantErr(t, err, accounts.ErrTokenExpired)
	})
}

func TestTOTPWithAFixedClock(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		st := accountstest.NewStack(t, kind, nil)
		ctx, svc := ctxOf(t), st.Service
		ann := register(t, st, "ann")
		login := func(code string) error {
			_, _, err := svc.Login(ctx, accounts.LoginInput{Email: "ann@example.com", Password: password, Code: code})
			return err
		}
		enr, err := svc.BeginTOTP(ctx, ann.p)
		must(t, err)
		if !strings.HasPrefix(enr.URL, "otpauth://totp/casual:ann@example.com?") || !strings.Contains(enr.URL, "secret="+enr.Secret) {
			t.Fatalf("enrolment url %s", enr.URL)
		}
		must(t, login("")) // not on until confirmed
		_, err = svc.ConfirmTOTP(ctx, ann.p, "000000")
		wantErr(t, err, accounts.ErrMFAInvalid)
		code := func() string {
			c, err := accounts.TOTPCode(enr.Secret, st.Clock.Now())
			must(t, err)
			return c
		}
		backups, err := svc.ConfirmTOTP(ctx, ann.p, code())
		must(t, err)
		if len(backups) != 10 {
			t.Fatalf("%d backup codes", len(backups))
		}

		wantErr(t, login(""), accounts.ErrMFARequired)
		wantErr(t, login("123456"), accounts.ErrMFAInvalid)
		// the code that confirmed enrolment was spent
		wantErr(t, login(code()), accounts.ErrMFAInvalid)
		st.Clock.Advance(30 * time.Second)
		must(t, login(code()))
		wantErr(t, login(code()), accounts.ErrMFAInvalid) // a code works once
		st.Clock.Advance(30 * time.Second)
		must(t, login(code()))

		must(t, login(backups[0]))
		wantErr(t, login(backups[0]), accounts.ErrMFAInvalid)
		must(t, login(strings.ToUpper(backups[1])))
		_, _, err = svc.Login(ctx, accounts.LoginInput{Email: "ann@example.com", Password: "wrong password", Code: backups[2]})
		wantErr(t, err, accounts.ErrBadCredentials)

		wantErr(t, svc.DisableTOTP(ctx, ann.p, "999999"), accounts.ErrMFAInvalid)
		st.Clock.Advance(30 * time.Second)
		must(t, svc.DisableTOTP(ctx, ann.p, code()))
		must(t, login(""))
	})
}

func TestEmailVerificationAndPasswordReset(t *testing.T) {
	accountstest.Each(t, func(t *testing.T, kind string) {
		st := accountstest.NewStack(t, kind, nil)
		ctx, svc := ctxOf(t), st.Service
		ann := register(t, st, "ann")
		if ann.user.EmailVerified {
			t.Fatal("verified before following the link")
		}
		m, ok := st.Outbox.Last(accounts.MailVerifyEmail, "ann@example.com")
		if !ok || !strings.Contains(m.Link, "/verify-email?token=") {
			t.Fatalf("no verification mail: %+v", m)
		}
		u, err := svc.VerifyEmail(ctx, m.Token)
		must(t, err)
		if !u.EmailVerified {
			t.Fatal("not verified")
		}
		_, err = svc.VerifyEmail(ctx, m.Token)
		wantErr(t, err, accounts.ErrTokenInvalid)

		must(t, svc.RequestPasswordReset(ctx, "nobody@example.com")) // same answer, no mail
		if _, ok := st.Outbox.Last(accounts.MailResetPassword, "nobody@example.com"); ok {
			t.Fatal("mail to an unknown address")
		}
		must(t, svc.RequestPasswordReset(ctx, "ANN@example.com"))
		reset, ok := st.Outbox.Last(accounts.MailResetPassword, "ann@example.com")
		if !ok {
			t.Fatal("no reset mail")
		}
		wantErr(t, svc.ResetPassword(ctx, reset.Token, "short"), accounts.ErrInvalid)
		must(t, svc.ResetPassword(ctx, reset.Token, "a brand new password"))
		wantErr(t, svc.ResetPassword(ctx, reset.Token, "another new password"), accounts.ErrTokenInvalid)
		_, err = svc.Authenticate(ctx, ann.tokens.AccessToken)
		wantErr(t, err, accounts.ErrTokenRevoked) // every session was signed out
		_, _, err = svc.Login(ctx, accounts.LoginInput{Email: "ann@example.com", Password: password})
		wantErr(t, err, accounts.ErrBadCredentials)
		_, _, err = svc.Login(ctx, accounts.LoginInput{Email: "ann@example.com", Password: "a brand new password"})
		must(t, err)

		// reset links expire
		must(t, svc.RequestPasswordReset(ctx, "ann@example.com"))
		late, _ := st.Outbox.Last(accounts.MailResetPassword, "ann@example.com")
		st.Clock.Advance(time.Hour)
		wantErr(t, svc.ResetPassword(ctx, late.Token, "yet another password"), accounts.ErrTokenExpired)
	})
}

func hasAction(es []accounts.AuditEvent, action string) bool {
	for _, e := range es {
		if e.Action == action {
			return true
		}
	}
	return false
}
