package accounts

import (
	"context"
	"errors"
	"strings"
)

// TOTPEnrollment is what enabling two-factor auth shows the user: the
// secret and the otpauth:// URL an authenticator app scans (as a QR code).
type TOTPEnrollment struct {
	Secret string
	URL    string
}

// BeginTOTP starts two-factor enrolment: a new secret is kept pending
// until ConfirmTOTP sees a code made from it.
func (s *Service) BeginTOTP(ctx context.Context, p Principal) (TOTPEnrollment, error) {
	u, err := s.Me(ctx, p)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	if u.TOTPEnabled {
		return TOTPEnrollment{}, invalidf("two-factor auth is already on; disable it first")
	}
	secret, err := newTOTPSecret(s.cfg.Rand)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	u.TOTPPending, u.UpdatedAt = secret, s.now()
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return TOTPEnrollment{}, err
	}
	return TOTPEnrollment{Secret: secret, URL: otpauthURL(s.cfg.Issuer, u.Email, secret)}, nil
}

// ConfirmTOTP turns two-factor auth on once code matches the pending
// secret, and returns one-time backup codes (shown once, stored hashed).
func (s *Service) ConfirmTOTP(ctx context.Context, p Principal, code string) ([]string, error) {
	u, err := s.Me(ctx, p)
	if err != nil {
		return nil, err
	}
	if u.TOTPPending == "" {
		return nil, invalidf("no two-factor enrolment in progress: call enable first")
	}
	step, ok := checkTOTP(u.TOTPPending, strings.TrimSpace(code), s.cfg.Clock())
	if !ok {
		return nil, ErrMFAInvalid
	}
	codes, digests, err := newBackupCodes(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	u.TOTPSecret, u.TOTPPending, u.TOTPEnabled, u.TOTPLastStep = u.TOTPPending, "", true, step
	u.BackupCodes, u.UpdatedAt = digests, s.now()
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	s.audit(ctx, u.ID, AuditTOTPEnabled, AuditEvent{})
	return codes, nil
}

// DisableTOTP turns two-factor auth off; it takes a current code (or a
// backup code), so a stolen session alone cannot remove the factor.
func (s *Service) DisableTOTP(ctx context.Context, p Principal, code string) error {
	u, err := s.Me(ctx, p)
	if err != nil {
		return err
	}
	if !u.TOTPEnabled {
		return invalidf("two-factor auth is not on")
	}
	if err := s.checkSecondFactor(ctx, u, code); err != nil {
		return err
	}
	if u, err = s.st.GetUser(ctx, u.ID); err != nil {
		return err
	}
	u.TOTPSecret, u.TOTPPending, u.TOTPEnabled, u.BackupCodes, u.UpdatedAt = "", "", false, []string{}, s.now()
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return err
	}
	s.audit(ctx, u.ID, AuditTOTPDisabled, AuditEvent{})
	return nil
}

// checkSecondFactor accepts a TOTP code (each time step once) or an unused
// backup code (then spent).
func (s *Service) checkSecondFactor(ctx context.Context, u User, code string) error {
	code = strings.TrimSpace(code)
	if step, ok := checkTOTP(u.TOTPSecret, code, s.cfg.Clock()); ok {
		err := s.st.UseTOTPStep(ctx, u.ID, step)
		if errors.Is(err, ErrTokenReused) {
			return ErrMFAInvalid
		}
		return err
	}
	if len(code) >= 10 {
		err := s.st.UseBackupCode(ctx, u.ID, backupDigest(code))
		if errors.Is(err, ErrNotFound) {
			return ErrMFAInvalid
		}
		return err
	}
	return ErrMFAInvalid
}
