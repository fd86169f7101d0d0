package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/casual-dev/casual/accounts"
)

const inviteCols = `id, email, COALESCE(org_id, ''), COALESCE(app_id, ''), role, invited_by, created_at, expires_at`

func scanInvite(r pgx.Row) (accounts.Invitation, error) {
	var inv accounts.Invitation
	var role string
	err := r.Scan(&inv.ID, &inv.Email, &inv.OrgID, &inv.AppID, &role, &inv.InvitedBy, &inv.CreatedAt, &inv.ExpiresAt)
	inv.Role = accounts.Role(role)
	inv.CreatedAt, inv.ExpiresAt = inv.CreatedAt.UTC(), inv.ExpiresAt.UTC()
	return inv, err
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateInvitation implements accounts.Store.
func (s *Store) CreateInvitation(ctx context.Context, inv accounts.Invitation) error {
	return mapErr("create invitation", s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM acct_invitations WHERE email = $1
			AND (org_id = $2 OR app_id = $3)`, inv.Email, inv.OrgID, inv.AppID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO acct_invitations (id, email, org_id, app_id, role, invited_by, created_at, expires_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, inv.ID, inv.Email, nullText(inv.OrgID), nullText(inv.AppID),
			string(inv.Role), inv.InvitedBy, inv.CreatedAt, inv.ExpiresAt)
		return err
	}))
}

// GetInvitation implements accounts.Store.
func (s *Store) GetInvitation(ctx context.Context, id string) (accounts.Invitation, error) {
	inv, err := scanInvite(s.pool.QueryRow(ctx, `SELECT `+inviteCols+` FROM acct_invitations WHERE id = $1`, id))
	return inv, mapErr("get invitation", err)
}

// ListInvitations implements accounts.Store.
func (s *Store) ListInvitations(ctx context.Context, orgID, appID string) ([]accounts.Invitation, error) {
	q := `SELECT ` + inviteCols + ` FROM acct_invitations WHERE app_id = $1 ORDER BY id COLLATE "C"`
	key := appID
	if orgID != "" {
		q, key = `SELECT `+inviteCols+` FROM acct_invitations WHERE org_id = $1 ORDER BY id COLLATE "C"`, orgID
	}
	return s.invites(ctx, "list invitations", q, key)
}

// InvitationsFor implements accounts.Store.
func (s *Store) InvitationsFor(ctx context.Context, email string) ([]accounts.Invitation, error) {
	return s.invites(ctx, "invitations for",
		`SELECT `+inviteCols+` FROM acct_invitations WHERE email = $1 ORDER BY id COLLATE "C"`, email)
}

func (s *Store) invites(ctx context.Context, op, q, arg string) ([]accounts.Invitation, error) {
	rows, err := s.pool.Query(ctx, q, arg)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (accounts.Invitation, error) { return scanInvite(r) })
	return out, mapErr(op, err)
}

// DeleteInvitation implements accounts.Store.
func (s *Store) DeleteInvitation(ctx context.Context, id string) error {
	return mapErr("delete invitation", affected(s.pool.Exec(ctx, `DELETE FROM acct_invitations WHERE id = $1`, id)))
}
