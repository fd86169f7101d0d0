package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/casual-dev/casual/accounts"
)

// CreateOrg implements accounts.Store.
func (s *Store) CreateOrg(ctx context.Context, o accounts.Org, owner accounts.Member) error {
	return mapErr("create org", s.tx(ctx, func(tx pgx.Tx) error {
		const q = `INSERT INTO acct_orgs (id, name, created_by, created_at, updated_at) VALUES ($1,$2,$3,$4,$5)`
		if _, err := tx.Exec(ctx, q, o.ID, o.Name, o.CreatedBy, o.CreatedAt, o.UpdatedAt); err != nil {
			return err
		}
		return upsertMember(ctx, tx, owner)
	}))
}

func upsertMember(ctx context.Context, tx pgx.Tx, m accounts.Member) error {
	const q = `INSERT INTO acct_org_members (org_id, user_id, role, added_by, added_at) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (org_id, user_id) DO UPDATE SET role = $3, added_by = $4, added_at = $5`
	_, err := tx.Exec(ctx, q, m.OrgID, m.UserID, string(m.Role), m.AddedBy, m.AddedAt)
	return err
}

// GetOrg implements accounts.Store.
func (s *Store) GetOrg(ctx context.Context, id string) (accounts.Org, error) {
	var o accounts.Org
	err := s.pool.QueryRow(ctx, `SELECT id, name, created_by, created_at, updated_at FROM acct_orgs WHERE id = $1`, id).
		Scan(&o.ID, &o.Name, &o.CreatedBy, &o.CreatedAt, &o.UpdatedAt)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, mapErr("get org "+id, err)
}

// UpdateOrg implements accounts.Store.
func (s *Store) UpdateOrg(ctx context.Context, o accounts.Org) error {
	const q = `UPDATE acct_orgs SET name = $2, created_by = $3, created_at = $4, updated_at = $5 WHERE id = $1`
	return mapErr("update org", affected(s.pool.Exec(ctx, q, o.ID, o.Name, o.CreatedBy, o.CreatedAt, o.UpdatedAt)))
}

// DeleteOrg implements accounts.Store; members go by ON DELETE CASCADE.
func (s *Store) DeleteOrg(ctx context.Context, id string) error {
	return mapErr("delete org", affected(s.pool.Exec(ctx, `DELETE FROM acct_orgs WHERE id = $1`, id)))
}

// lockOrg serializes membership changes of one organization and reports
// how many owners it has.
func lockOrg(ctx context.Context, tx pgx.Tx, orgID string) (owners int, err error) {
	if err := tx.QueryRow(ctx, `SELECT 1 FROM acct_orgs WHERE id = $1 FOR UPDATE`, orgID).Scan(new(int)); err != nil {
		return 0, err
	}
	err = tx.QueryRow(ctx, `SELECT count(*) FROM acct_org_members WHERE org_id = $1 AND role = 'owner'`, orgID).Scan(&owners)
	return owners, err
}

func currentRole(ctx context.Context, tx pgx.Tx, orgID, userID string) (accounts.Role, error) {
	var role string
	err := tx.QueryRow(ctx, `SELECT role FROM acct_org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID).Scan(&role)
	return accounts.Role(role), err
}

// PutMember implements accounts.Store.
func (s *Store) PutMember(ctx context.Context, m accounts.Member) error {
	return mapErr("put member", s.tx(ctx, func(tx pgx.Tx) error {
		owners, err := lockOrg(ctx, tx, m.OrgID)
		if err != nil {
			return err
		}
		role, err := currentRole(ctx, tx, m.OrgID, m.UserID)
		if err != nil && err != pgx.ErrNoRows {
			return err
		}
		if role == accounts.RoleOwner && m.Role != accounts.RoleOwner && owners <= 1 {
			return accounts.ErrLastOwner
		}
		return upsertMember(ctx, tx, m)
	}))
}

// GetMember implements accounts.Store.
func (s *Store) GetMember(ctx context.Context, orgID, userID string) (accounts.Member, error) {
	m, err := scanMember(s.pool.QueryRow(ctx, `SELECT org_id, user_id, role, added_by, added_at FROM acct_org_members
		WHERE org_id = $1 AND user_id = $2`, orgID, userID))
	return m, mapErr("get member", err)
}

func scanMember(row pgx.Row) (accounts.Member, error) {
	var m accounts.Member
	var role string
	err := row.Scan(&m.OrgID, &m.UserID, &role, &m.AddedBy, &m.AddedAt)
	m.Role, m.AddedAt = accounts.Role(role), m.AddedAt.UTC()
	return m, err
}

// RemoveMember implements accounts.Store.
func (s *Store) RemoveMember(ctx context.Context, orgID, userID string) error {
	return mapErr("remove member", s.tx(ctx, func(tx pgx.Tx) error {
		owners, err := lockOrg(ctx, tx, orgID)
		if err != nil {
			return err
		}
		role, err := currentRole(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if role == accounts.RoleOwner && owners <= 1 {
			return accounts.ErrLastOwner
		}
		_, err = tx.Exec(ctx, `DELETE FROM acct_org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID)
		return err
	}))
}

func (s *Store) members(ctx context.Context, op, where, arg, order string) ([]accounts.Member, error) {
	rows, err := s.pool.Query(ctx, `SELECT org_id, user_id, role, added_by, added_at FROM acct_org_members
		WHERE `+where+` = $1 ORDER BY `+order+` COLLATE "C"`, arg)
	if err != nil {
		return nil, mapErr(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (accounts.Member, error) { return scanMember(r) })
	return out, mapErr(op, err)
}

// ListMembers implements accounts.Store.
func (s *Store) ListMembers(ctx context.Context, orgID string) ([]accounts.Member, error) {
	return s.members(ctx, "list members", "org_id", orgID, "user_id")
}

// ListMemberships implements accounts.Store.
func (s *Store) ListMemberships(ctx context.Context, userID string) ([]accounts.Member, error) {
	return s.members(ctx, "list memberships", "user_id", userID, "org_id")
}
