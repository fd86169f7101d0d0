package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casual-dev/casual/accounts"
)

const userCols = `id, email, name, password_hash, email_verified, totp_secret, totp_pending, totp_enabled,
	totp_last_step, backup_codes, created_at, updated_at, last_login_at`

func scanUser(row pgx.Row) (accounts.User, error) {
	var u accounts.User
	var last nt
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.EmailVerified, &u.TOTPSecret, &u.TOTPPending,
		&u.TOTPEnabled, &u.TOTPLastStep, &u.BackupCodes, &u.CreatedAt, &u.UpdatedAt, &last.t)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC(), last.get()
	if u.BackupCodes == nil {
		u.BackupCodes = []string{}
	}
	return u, err
}

func codes(c []string) []string {
	if c == nil {
		return []string{}
	}
	return c
}

// CreateUser implements accounts.Store.
func (s *Store) CreateUser(ctx context.Context, u accounts.User) error {
	const q = `INSERT INTO acct_users (` + userCols + `) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`
	_, err := s.pool.Exec(ctx, q, u.ID, u.Email, u.Name, u.PasswordHash, u.EmailVerified, u.TOTPSecret, u.TOTPPending,
		u.TOTPEnabled, u.TOTPLastStep, codes(u.BackupCodes), u.CreatedAt, u.UpdatedAt, null(u.LastLoginAt))
	return mapErr("create user", err)
}

// GetUser implements accounts.Store.
func (s *Store) GetUser(ctx context.Context, id string) (accounts.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM acct_users WHERE id = $1`, id))
	return u, mapErr("get user "+id, err)
}

// GetUserByEmail implements accounts.Store.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (accounts.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM acct_users WHERE email = $1`, email))
	return u, mapErr("get user by email", err)
}

// UpdateUser implements accounts.Store.
func (s *Store) UpdateUser(ctx context.Context, u accounts.User) error {
	const q = `UPDATE acct_users SET email=$2, name=$3, password_hash=$4, email_verified=$5, totp_secret=$6,
		totp_pending=$7, totp_enabled=$8, totp_last_step=$9, backup_codes=$10, created_at=$11, updated_at=$12,
		last_login_at=$13 WHERE id = $1`
	return mapErr("update user", affected(s.pool.Exec(ctx, q, u.ID, u.Email, u.Name, u.PasswordHash, u.EmailVerified,
		u.TOTPSecret, u.TOTPPending, u.TOTPEnabled, u.TOTPLastStep, codes(u.BackupCodes), u.CreatedAt, u.UpdatedAt,
		null(u.LastLoginAt))))
}

// DeleteUser implements accounts.Store: sessions, tokens and memberships
// go by ON DELETE CASCADE.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return mapErr("delete user", affected(s.pool.Exec(ctx, `DELETE FROM acct_users WHERE id = $1`, id)))
}

// UseBackupCode implements accounts.Store.
func (s *Store) UseBackupCode(ctx context.Context, userID, digest string) error {
	const q = `UPDATE acct_users SET backup_codes = array_remove(backup_codes, $2)
		WHERE id = $1 AND $2 = ANY (backup_codes)`
	return mapErr("use backup code", affected(s.pool.Exec(ctx, q, userID, digest)))
}

// UseTOTPStep implements accounts.Store.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var last int64
		err := tx.QueryRow(ctx, `SELECT totp_last_step FROM acct_users WHERE id = $1 FOR UPDATE`, userID).Scan(&last)
		if err != nil {
			return mapErr("use totp step", err)
		}
		if step <= last {
			return fmt.Errorf("use totp step: %w: code already used", accounts.ErrTokenReused)
		}
		_, err = tx.Exec(ctx, `UPDATE acct_users SET totp_last_step = $2 WHERE id = $1`, userID, step)
		return mapErr("use totp step", err)
	})
}

const sessionCols = `id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip`

func scanSession(row pgx.Row) (accounts.Session, error) {
	var s accounts.Session
	var revoked nt
	err := row.Scan(&s.ID, &s.UserID, &s.CreatedAt, &s.LastUsedAt, &s.ExpiresAt, &revoked.t, &s.UserAgent, &s.IP)
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt, s.RevokedAt = s.CreatedAt.UTC(), s.LastUsedAt.UTC(), s.ExpiresAt.UTC(), revoked.get()
	return s, err
}

// CreateSession implements accounts.Store.
func (s *Store) CreateSession(ctx context.Context, sess accounts.Session, first accounts.RefreshToken) error {
	return mapErr("create session", s.tx(ctx, func(tx pgx.Tx) error {
		const qs = `INSERT INTO acct_sessions (` + sessionCols + `) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`
		if _, err := tx.Exec(ctx, qs, sess.ID, sess.UserID, sess.CreatedAt, sess.LastUsedAt, sess.ExpiresAt,
			null(sess.RevokedAt), sess.UserAgent, sess.IP); err != nil {
			return err
		}
		return insertRefresh(ctx, tx, first)
	}))
}

func insertRefresh(ctx context.Context, tx pgx.Tx, t accounts.RefreshToken) error {
	const q = `INSERT INTO acct_refresh_tokens (hash, session_id, user_id, created_at, expires_at, used_at)
		VALUES ($1,$2,$3,$4,$5,$6)`
	_, err := tx.Exec(ctx, q, t.Hash, t.SessionID, t.UserID, t.CreatedAt, t.ExpiresAt, null(t.UsedAt))
	return err
}

// GetSession implements accounts.Store.
func (s *Store) GetSession(ctx context.Context, id string) (accounts.Session, error) {
	sess, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionCols+` FROM acct_sessions WHERE id = $1`, id))
	return sess, mapErr("get session", err)
}

// ListSessions implements accounts.Store.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]accounts.Session, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sessionCols+` FROM acct_sessions
		WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id COLLATE "C" DESC`, userID)
	if err != nil {
		return nil, mapErr("list sessions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (accounts.Session, error) { return scanSession(r) })
	return out, mapErr("list sessions", err)
}

// RevokeSession implements accounts.Store.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	const q = `UPDATE acct_sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`
	return mapErr("revoke session", affected(s.pool.Exec(ctx, q, id, at)))
}

// RevokeUserSessions implements accounts.Store.
func (s *Store) RevokeUserSessions(ctx context.Context, userID string, at time.Time) error {
	const q = `UPDATE acct_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`
	_, err := s.pool.Exec(ctx, q, userID, at)
	return mapErr("revoke user sessions", err)
}

// RotateRefreshToken implements accounts.Store. The old token's row is
// locked, so two concurrent exchanges of one token see each other: one
// rotates, the other is reuse.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next accounts.RefreshToken, now time.Time) (accounts.Session, error) {
	var sess accounts.Session
	var result error
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var old accounts.RefreshToken
		var used nt
		err := tx.QueryRow(ctx, `SELECT session_id, user_id, expires_at, used_at FROM acct_refresh_tokens
			WHERE hash = $1 FOR UPDATE`, oldHash).Scan(&old.SessionID, &old.UserID, &old.ExpiresAt, &used.t)
		if err != nil {
			return err
		}
		sess, err = scanSession(tx.QueryRow(ctx, `SELECT `+sessionCols+` FROM acct_sessions WHERE id = $1 FOR UPDATE`, old.SessionID))
		if err != nil {
			return err
		}
		switch {
		case !sess.RevokedAt.IsZero():
			result = fmt.Errorf("%w: session revoked", accounts.ErrTokenRevoked)
			return nil
		case used.t != nil:
			sess.RevokedAt = now
			result = accounts.ErrTokenReused
			_, err := tx.Exec(ctx, `UPDATE acct_sessions SET revoked_at = $2 WHERE id = $1`, sess.ID, now)
			return err
		case !now.Before(old.ExpiresAt):
			result = accounts.ErrTokenExpired
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE acct_refresh_tokens SET used_at = $2 WHERE hash = $1`, oldHash, now); err != nil {
			return err
		}
		next.SessionID, next.UserID = old.SessionID, old.UserID
		if err := insertRefresh(ctx, tx, next); err != nil {
			return err
		}
		sess.LastUsedAt, sess.ExpiresAt = now, next.ExpiresAt
		_, err = tx.Exec(ctx, `UPDATE acct_sessions SET last_used_at = $2, expires_at = $3 WHERE id = $1`, sess.ID, now, next.ExpiresAt)
		return err
	})
	if err != nil {
		return accounts.Session{}, mapErr("rotate refresh token", err)
	}
	return sess, result
}

// CreateOneTimeToken implements accounts.Store.
func (s *Store) CreateOneTimeToken(ctx context.Context, t accounts.OneTimeToken) error {
	const q = `INSERT INTO acct_one_time_tokens (hash, kind, user_id, email, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6)`
	_, err := s.pool.Exec(ctx, q, t.Hash, t.Kind, t.UserID, t.Email, t.CreatedAt, t.ExpiresAt)
	return mapErr("create one-time token", err)
}

// ConsumeOneTimeToken implements accounts.Store.
func (s *Store) ConsumeOneTimeToken(ctx context.Context, hash, kind string, now time.Time) (accounts.OneTimeToken, error) {
	var t accounts.OneTimeToken
	err := s.pool.QueryRow(ctx, `DELETE FROM acct_one_time_tokens WHERE hash = $1 AND kind = $2
		RETURNING hash, kind, user_id, email, created_at, expires_at`, hash, kind).
		Scan(&t.Hash, &t.Kind, &t.UserID, &t.Email, &t.CreatedAt, &t.ExpiresAt)
	if err != nil {
		return accounts.OneTimeToken{}, mapErr("consume token", err)
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	if !now.Before(t.ExpiresAt) {
		return accounts.OneTimeToken{}, accounts.ErrTokenExpired
	}
	return t, nil
}
