package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casual-dev/casual/accounts"
)

// CreateVersion implements accounts.Store.
func (s *Store) CreateVersion(ctx context.Context, v accounts.Version) error {
	const q = `INSERT INTO acct_versions (id, app_id, label, heads, author_id, created_at) VALUES ($1,$2,$3,$4,$5,$6)`
	_, err := s.pool.Exec(ctx, q, v.ID, v.AppID, v.Label, v.Heads, v.AuthorID, v.CreatedAt)
	return mapErr("create version", err)
}

func scanVersion(row pgx.Row) (accounts.Version, error) {
	var v accounts.Version
	err := row.Scan(&v.ID, &v.AppID, &v.Label, &v.Heads, &v.AuthorID, &v.CreatedAt)
	v.CreatedAt = v.CreatedAt.UTC()
	return v, err
}

// GetVersion implements accounts.Store.
func (s *Store) GetVersion(ctx context.Context, appID, id string) (accounts.Version, error) {
	v, err := scanVersion(s.pool.QueryRow(ctx, `SELECT id, app_id, label, heads, author_id, created_at
		FROM acct_versions WHERE app_id = $1 AND id = $2`, appID, id))
	return v, mapErr("get version "+id, err)
}

// ListVersions implements accounts.Store.
func (s *Store) ListVersions(ctx context.Context, appID string) ([]accounts.Version, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, app_id, label, heads, author_id, created_at FROM acct_versions
		WHERE app_id = $1 ORDER BY created_at DESC, id COLLATE "C" DESC`, appID)
	if err != nil {
		return nil, mapErr("list versions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (accounts.Version, error) { return scanVersion(r) })
	return out, mapErr("list versions", err)
}

const shareCols = `id, app_id, kind, mode, created_by, created_at, expires_at, revoked_at`

func scanShare(row pgx.Row) (accounts.Share, error) {
	var sh accounts.Share
	var mode string
	var revoked nt
	err := row.Scan(&sh.ID, &sh.AppID, &sh.Kind, &mode, &sh.CreatedBy, &sh.CreatedAt, &sh.ExpiresAt, &revoked.t)
	sh.Mode, sh.CreatedAt, sh.ExpiresAt, sh.RevokedAt = accounts.ShareMode(mode), sh.CreatedAt.UTC(), sh.ExpiresAt.UTC(), revoked.get()
	return sh, err
}

// CreateShare implements accounts.Store.
func (s *Store) CreateShare(ctx context.Context, sh accounts.Share) error {
	const q = `INSERT INTO acct_shares (` + shareCols + `) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`
	_, err := s.pool.Exec(ctx, q, sh.ID, sh.AppID, sh.Kind, string(sh.Mode), sh.CreatedBy, sh.CreatedAt, sh.ExpiresAt, null(sh.RevokedAt))
	return mapErr("create share", err)
}

// GetShare implements accounts.Store.
func (s *Store) GetShare(ctx context.Context, id string) (accounts.Share, error) {
	sh, err := scanShare(s.pool.QueryRow(ctx, `SELECT `+shareCols+` FROM acct_shares WHERE id = $1`, id))
	return sh, mapErr("get share", err)
}

// ListShares implements accounts.Store.
func (s *Store) ListShares(ctx context.Context, appID string) ([]accounts.Share, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+shareCols+` FROM acct_shares WHERE app_id = $1
		ORDER BY created_at DESC, id COLLATE "C" DESC`, appID)
	if err != nil {
		return nil, mapErr("list shares", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (accounts.Share, error) { return scanShare(r) })
	return out, mapErr("list shares", err)
}

// RevokeShare implements accounts.Store.
func (s *Store) RevokeShare(ctx context.Context, id string, at time.Time) error {
	return mapErr("revoke share", affected(s.pool.Exec(ctx,
		`UPDATE acct_shares SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, at)))
}

// AppendAudit implements accounts.Store.
func (s *Store) AppendAudit(ctx context.Context, e accounts.AuditEvent) error {
	const q = `INSERT INTO acct_audit (id, at, actor_id, action, org_id, app_id, target_id, ip, detail)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`
	var detail any
	if len(e.Detail) > 0 {
		detail = e.Detail
	}
	_, err := s.pool.Exec(ctx, q, e.ID, e.At, e.ActorID, e.Action, e.OrgID, e.AppID, e.TargetID, e.IP, detail)
	return mapErr("append audit", err)
}

// ListAudit implements accounts.Store.
func (s *Store) ListAudit(ctx context.Context, aq accounts.AuditQuery) ([]accounts.AuditEvent, error) {
	q := query{where: []string{"true"}}
	if aq.OrgID != "" {
		q.and("org_id = " + q.arg(aq.OrgID))
	}
	if aq.ActorID != "" {
		q.and("actor_id = " + q.arg(aq.ActorID))
	}
	if aq.AppID != "" {
		q.and("app_id = " + q.arg(aq.AppID))
	}
	if aq.Before != "" {
		q.and("id < " + q.arg(aq.Before))
	}
	sql := `SELECT id, at, actor_id, action, org_id, app_id, target_id, ip, detail FROM acct_audit WHERE ` +
		strings.Join(q.where, " AND ") + ` ORDER BY id DESC`
	if aq.Limit > 0 {
		sql += " LIMIT " + q.arg(aq.Limit)
	}
	rows, err := s.pool.Query(ctx, sql, q.args...)
	if err != nil {
		return nil, mapErr("list audit", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (accounts.AuditEvent, error) {
		var e accounts.AuditEvent
		err := r.Scan(&e.ID, &e.At, &e.ActorID, &e.Action, &e.OrgID, &e.AppID, &e.TargetID, &e.IP, &e.Detail)
		e.At = e.At.UTC()
		return e, err
	})
	return out, mapErr("list audit", err)
}
