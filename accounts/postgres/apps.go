package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/casual-dev/casual/accounts"
)

const appCols = `id, name, description, owner_id, org_id, visibility, template, forked_from, created_by,
	created_at, updated_at, published_at, deleted_at`

func scanApp(row pgx.Row) (accounts.App, error) {
	var a accounts.App
	var vis string
	var pub, del nt
	err := row.Scan(&a.ID, &a.Name, &a.Description, &a.OwnerID, &a.OrgID, &vis, &a.Template, &a.ForkedFrom,
		&a.CreatedBy, &a.CreatedAt, &a.UpdatedAt, &pub.t, &del.t)
	a.Visibility = accounts.Visibility(vis)
	a.CreatedAt, a.UpdatedAt, a.PublishedAt, a.DeletedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC(), pub.get(), del.get()
	return a, err
}

func collectApps(rows pgx.Rows, err error) ([]accounts.App, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (accounts.App, error) { return scanApp(r) })
}

func appArgs(a accounts.App) []any {
	return []any{a.ID, a.Name, a.Description, a.OwnerID, a.OrgID, string(a.Visibility), a.Template, a.ForkedFrom,
		a.CreatedBy, a.CreatedAt, a.UpdatedAt, null(a.PublishedAt), null(a.DeletedAt)}
}

// CreateApp implements accounts.Store.
func (s *Store) CreateApp(ctx context.Context, a accounts.App) error {
	const q = `INSERT INTO acct_apps (` + appCols + `) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`
	_, err := s.pool.Exec(ctx, q, appArgs(a)...)
	return mapErr("create app", err)
}

// GetApp implements accounts.Store.
func (s *Store) GetApp(ctx context.Context, id string) (accounts.App, error) {
	a, err := scanApp(s.pool.QueryRow(ctx, `SELECT `+appCols+` FROM acct_apps WHERE id = $1`, id))
	return a, mapErr("get app "+id, err)
}

// UpdateApp implements accounts.Store.
func (s *Store) UpdateApp(ctx context.Context, a accounts.App) error {
	const q = `UPDATE acct_apps SET name=$2, description=$3, owner_id=$4, org_id=$5, visibility=$6, template=$7,
		forked_from=$8, created_by=$9, created_at=$10, updated_at=$11, published_at=$12, deleted_at=$13 WHERE id = $1`
	return mapErr("update app", affected(s.pool.Exec(ctx, q, appArgs(a)...)))
}

// PurgeApp implements accounts.Store; members, versions and shares go by
// ON DELETE CASCADE.
func (s *Store) PurgeApp(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM acct_apps WHERE id = $1`, id)
	return mapErr("purge app", err)
}

// query builds a statement with numbered arguments.
type query struct {
	where []string
	args  []any
}

func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

func (q *query) and(cond string) { q.where = append(q.where, cond) }

// ListApps implements accounts.Store. The scope and filters mirror the
// embedded store's; names and ids compare in byte order (COLLATE "C").
func (s *Store) ListApps(ctx context.Context, aq accounts.AppQuery) ([]accounts.App, error) {
	var q query
	if !aq.All {
		var scope []string
		if aq.Viewer != "" {
			v := q.arg(aq.Viewer)
			scope = append(scope, "owner_id = "+v,
				"id IN (SELECT app_id FROM acct_app_members WHERE user_id = "+v+")")
		}
		if len(aq.AdminOrgIDs) > 0 {
			scope = append(scope, "(org_id <> '' AND org_id = ANY ("+q.arg(aq.AdminOrgIDs)+"))")
		}
		if len(aq.OrgIDs) > 0 {
			scope = append(scope, "(org_id <> '' AND visibility <> 'private' AND org_id = ANY ("+q.arg(aq.OrgIDs)+"))")
		}
		if aq.IncludePublic {
			scope = append(scope, "visibility = 'public'")
		}
		if len(scope) == 0 {
			return nil, nil
		}
		q.and("(" + strings.Join(scope, " OR ") + ")")
	}
	if aq.Deleted {
		q.and("deleted_at IS NOT NULL")
	} else {
		q.and("deleted_at IS NULL")
	}
	if aq.OwnerID != "" {
		q.and("owner_id = " + q.arg(aq.OwnerID))
	}
	if aq.OrgID != "" {
		q.and("org_id = " + q.arg(aq.OrgID))
	}
	if aq.Visibility != "" {
		q.and("visibility = " + q.arg(string(aq.Visibility)))
	}
	if aq.Search != "" {
		p := q.arg(strings.ToLower(aq.Search))
		q.and("(strpos(lower(name), " + p + ") > 0 OR strpos(lower(description), " + p + ") > 0)")
	}
	key := map[accounts.AppSort]string{accounts.SortName: `name COLLATE "C"`, accounts.SortCreated: "created_at"}[aq.Sort]
	if key == "" {
		key = "updated_at"
	}
	dir, cmp := "ASC", ">"
	if aq.Desc {
		dir, cmp = "DESC", "<"
	}
	if aq.AfterID != "" {
		var after any = aq.AfterTime
		if aq.Sort == accounts.SortName {
			after = aq.AfterName
		}
		k, id := q.arg(after), q.arg(aq.AfterID)
		q.and(fmt.Sprintf(`(%s %s %s OR (%s = %s AND id COLLATE "C" %s %s))`, key, cmp, k, key, k, cmp, id))
	}
	sql := `SELECT ` + appCols + ` FROM acct_apps WHERE ` + strings.Join(q.where, " AND ") +
		fmt.Sprintf(` ORDER BY %s %s, id COLLATE "C" %s`, key, dir, dir)
	if aq.Limit > 0 {
		sql += " LIMIT " + q.arg(aq.Limit)
	}
	out, err := collectApps(s.pool.Query(ctx, sql, q.args...))
	return out, mapErr("list apps", err)
}

// ListTrash implements accounts.Store.
func (s *Store) ListTrash(ctx context.Context, cut time.Time, limit int) ([]accounts.App, error) {
	out, err := collectApps(s.pool.Query(ctx, `SELECT `+appCols+` FROM acct_apps
		WHERE deleted_at IS NOT NULL AND deleted_at < $1 ORDER BY deleted_at, id COLLATE "C" LIMIT $2`, cut, limit))
	return out, mapErr("list trash", err)
}

// PutAppMember implements accounts.Store.
func (s *Store) PutAppMember(ctx context.Context, m accounts.AppMember) error {
	const q = `INSERT INTO acct_app_members (app_id, user_id, role, added_by, added_at) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (app_id, user_id) DO UPDATE SET role = $3, added_by = $4, added_at = $5`
	_, err := s.pool.Exec(ctx, q, m.AppID, m.UserID, string(m.Role), m.AddedBy, m.AddedAt)
	return mapErr("put app member", err)
}

func scanAppMember(row pgx.Row) (accounts.AppMember, error) {
	var m accounts.AppMember
	var role string
	err := row.Scan(&m.AppID, &m.UserID, &role, &m.AddedBy, &m.AddedAt)
	m.Role, m.AddedAt = accounts.Role(role), m.AddedAt.UTC()
	return m, err
}

// GetAppMember implements accounts.Store.
func (s *Store) GetAppMember(ctx context.Context, appID, userID string) (accounts.AppMember, error) {
	m, err := scanAppMember(s.pool.QueryRow(ctx, `SELECT app_id, user_id, role, added_by, added_at FROM acct_app_members
		WHERE app_id = $1 AND user_id = $2`, appID, userID))
	return m, mapErr("get app member", err)
}

// RemoveAppMember implements accounts.Store.
func (s *Store) RemoveAppMember(ctx context.Context, appID, userID string) error {
	return mapErr("remove app member", affected(s.pool.Exec(ctx,
		`DELETE FROM acct_app_members WHERE app_id = $1 AND user_id = $2`, appID, userID)))
}

// ListAppMembers implements accounts.Store.
func (s *Store) ListAppMembers(ctx context.Context, appID string) ([]accounts.AppMember, error) {
	rows, err := s.pool.Query(ctx, `SELECT app_id, user_id, role, added_by, added_at FROM acct_app_members
		WHERE app_id = $1 ORDER BY user_id COLLATE "C"`, appID)
	if err != nil {
		return nil, mapErr("list app members", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (accounts.AppMember, error) { return scanAppMember(r) })
	return out, mapErr("list app members", err)
}
