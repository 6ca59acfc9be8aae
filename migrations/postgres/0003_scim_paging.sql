-- SCIM list paging (issue 9): see migrations/sqlite/0007_scim_paging.sql.

-- The default order (id) of a tenant's SCIM resources: the id-only inner query of
-- `Db::scim_list` is an index-only scan of it (heap fetches only for pages the visibility
-- map does not yet mark all-visible: autovacuum after bulk inserts sets them).
CREATE INDEX users_scim_page ON users(tenant_id, id) WHERE scim_id IS NOT NULL;
CREATE INDEX groups_scim_page ON groups(tenant_id, id) WHERE scim_id IS NOT NULL;

-- n = the tenant's SCIM resources of that table (the unfiltered totalResults), changes =
-- bumped whenever that set changes. Kept by the trigger below in the writing transaction
-- (the row lock on the counter serialises a tenant's inserts and deletes, which SCIM
-- writes already do with the tenant's advisory lock). Row triggers do not see TRUNCATE,
-- nor writes with triggers disabled (session_replication_role = replica, a data-only
-- pg_restore --disable-triggers): after such a load, recompute this table.
CREATE TABLE scim_counts (
    -- No foreign key: the row outlives its tenant, so that changes never repeats for a
    -- tenant id (SQLite can reuse the id of a deleted row).
    tenant_id BIGINT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('users', 'groups')),
    n         BIGINT NOT NULL DEFAULT 0,
    changes   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, kind)
);
INSERT INTO scim_counts (tenant_id, kind, n)
    SELECT tenant_id, 'users', count(*) FROM users WHERE scim_id IS NOT NULL GROUP BY tenant_id;
INSERT INTO scim_counts (tenant_id, kind, n)
    SELECT tenant_id, 'groups', count(*) FROM groups WHERE scim_id IS NOT NULL GROUP BY tenant_id;

CREATE FUNCTION scim_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.tenant_id = NEW.tenant_id
       AND (OLD.scim_id IS NULL) = (NEW.scim_id IS NULL) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.scim_id IS NOT NULL THEN
        UPDATE scim_counts SET n = n - 1, changes = changes + 1
            WHERE tenant_id = OLD.tenant_id AND kind = TG_TABLE_NAME;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.scim_id IS NOT NULL THEN
        INSERT INTO scim_counts AS c (tenant_id, kind, n, changes)
            VALUES (NEW.tenant_id, TG_TABLE_NAME, 1, 1)
            ON CONFLICT (tenant_id, kind) DO UPDATE SET n = c.n + 1, changes = c.changes + 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_scim_count AFTER INSERT OR DELETE OR UPDATE OF tenant_id, scim_id ON users
    FOR EACH ROW EXECUTE FUNCTION scim_count_change();
CREATE TRIGGER groups_scim_count AFTER INSERT OR DELETE OR UPDATE OF tenant_id, scim_id ON groups
    FOR EACH ROW EXECUTE FUNCTION scim_count_change();
