package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

// CreateTenant adds a tenant. Tenants are created by an operator, not by the
// application, so this connects with the owner's URL: shifu_app may only read
// the tenants table.
func CreateTenant(ctx context.Context, ownerURL, name string, wrappedKey []byte) (shifu.Tenant, error) {
	conn, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		return shifu.Tenant{}, fmt.Errorf("create tenant: connect: %w", err)
	}
	defer conn.Close(ctx)
	t := shifu.Tenant{Name: name}
	err = conn.QueryRow(ctx, `INSERT INTO tenants (name, wrapped_key) VALUES ($1, $2) RETURNING id, created_at`,
		name, wrappedKey).Scan(&t.ID, &t.CreatedAt)
	if err != nil {
		err = classify(err)
		switch {
		case errors.Is(err, shifu.ErrConflict):
			return t, shifu.Errorf(shifu.ErrConflict, "tenant %q already exists", name)
		case errors.Is(err, shifu.ErrInvalid):
			return t, shifu.Errorf(shifu.ErrInvalid, "tenant name %q: use 1-63 lowercase letters, digits, - or _, starting with a letter or digit", name)
		}
		return t, fmt.Errorf("create tenant: %w", err)
	}
	return t, nil
}

// Tenant finds a tenant by name and returns its wrapped data key.
func (db *DB) Tenant(ctx context.Context, name string) (shifu.Tenant, []byte, error) {
	var t shifu.Tenant
	var key []byte
	err := db.pool.QueryRow(ctx, `SELECT id, name, wrapped_key, created_at FROM tenants WHERE name = $1`, name).
		Scan(&t.ID, &t.Name, &key, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, nil, shifu.Errorf(shifu.ErrNotFound, "no tenant named %q (create it with `shifu tenant create %s`)", name, name)
	}
	if err != nil {
		return t, nil, fmt.Errorf("tenant %q: %w", name, err)
	}
	return t, key, nil
}

// TenantByID is Tenant for a known id.
func (db *DB) TenantByID(ctx context.Context, id int64) (shifu.Tenant, []byte, error) {
	var t shifu.Tenant
	var key []byte
	err := read(ctx, func() error {
		return db.pool.QueryRow(ctx, `SELECT id, name, wrapped_key, created_at FROM tenants WHERE id = $1`, id).
			Scan(&t.ID, &t.Name, &key, &t.CreatedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return t, nil, shifu.Errorf(shifu.ErrNotFound, "no tenant %d", id)
	}
	if err != nil {
		return t, nil, fmt.Errorf("tenant %d: %w", id, err)
	}
	return t, key, nil
}

// Tenants lists every tenant, by id: work that runs for all of them, such as
// rebuilding postings after the analyzer changed.
func (db *DB) Tenants(ctx context.Context) ([]shifu.Tenant, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, name, created_at FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (shifu.Tenant, error) {
		var t shifu.Tenant
		return t, r.Scan(&t.ID, &t.Name, &t.CreatedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	return ts, nil
}
