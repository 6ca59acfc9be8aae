-- SCIM list paging (issue 9): a full import pages through every user with startIndex and
-- count, so a page and its totalResults must not cost a sort or a scan of all the
-- tenant's users.

-- The default order (id) of a tenant's SCIM resources, for `ORDER BY id LIMIT .. OFFSET ..`
-- and `id > ..` pages: covering for the id-only inner query of `Db::scim_list`.
CREATE INDEX users_scim_page ON users(tenant_id, id) WHERE scim_id IS NOT NULL;
CREATE INDEX groups_scim_page ON groups(tenant_id, id) WHERE scim_id IS NOT NULL;

-- Per tenant and table: n = the SCIM resources (rows with a scim_id), the unfiltered
-- totalResults; changes = a counter bumped whenever that set changes (a row added,
-- removed, or moved in or out by its tenant_id or scim_id). Kept by the triggers below in
-- the writing transaction, so it is exact whichever code (or person) writes the rows.
-- `Db::scim_list` reads n instead of count(*) and uses changes to tell whether a page
-- cursor it remembers is still exact.
CREATE TABLE scim_counts (
    -- No foreign key: the row outlives its tenant, so that changes never repeats for a
    -- tenant id (SQLite can reuse the id of a deleted row).
    tenant_id INTEGER NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('users', 'groups')),
    n         INTEGER NOT NULL DEFAULT 0,
    changes   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, kind)
);
INSERT INTO scim_counts (tenant_id, kind, n)
    SELECT tenant_id, 'users', count(*) FROM users WHERE scim_id IS NOT NULL GROUP BY tenant_id;
INSERT INTO scim_counts (tenant_id, kind, n)
    SELECT tenant_id, 'groups', count(*) FROM groups WHERE scim_id IS NOT NULL GROUP BY tenant_id;

CREATE TRIGGER users_scim_count_insert AFTER INSERT ON users WHEN NEW.scim_id IS NOT NULL
BEGIN
    INSERT INTO scim_counts (tenant_id, kind, n, changes) VALUES (NEW.tenant_id, 'users', 1, 1)
        ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1, changes = changes + 1;
END;
CREATE TRIGGER users_scim_count_delete AFTER DELETE ON users WHEN OLD.scim_id IS NOT NULL
BEGIN
    UPDATE scim_counts SET n = n - 1, changes = changes + 1
        WHERE tenant_id = OLD.tenant_id AND kind = 'users';
END;
CREATE TRIGGER users_scim_count_update AFTER UPDATE OF tenant_id, scim_id ON users
    WHEN OLD.tenant_id IS NOT NEW.tenant_id OR (OLD.scim_id IS NULL) IS NOT (NEW.scim_id IS NULL)
BEGIN
    UPDATE scim_counts SET n = n - 1, changes = changes + 1
        WHERE tenant_id = OLD.tenant_id AND kind = 'users' AND OLD.scim_id IS NOT NULL;
    INSERT INTO scim_counts (tenant_id, kind, n, changes)
        SELECT NEW.tenant_id, 'users', 1, 1 WHERE NEW.scim_id IS NOT NULL
        ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1, changes = changes + 1;
END;

CREATE TRIGGER groups_scim_count_insert AFTER INSERT ON groups WHEN NEW.scim_id IS NOT NULL
BEGIN
    INSERT INTO scim_counts (tenant_id, kind, n, changes) VALUES (NEW.tenant_id, 'groups', 1, 1)
        ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1, changes = changes + 1;
END;
CREATE TRIGGER groups_scim_count_delete AFTER DELETE ON groups WHEN OLD.scim_id IS NOT NULL
BEGIN
    UPDATE scim_counts SET n = n - 1, changes = changes + 1
        WHERE tenant_id = OLD.tenant_id AND kind = 'groups';
END;
CREATE TRIGGER groups_scim_count_update AFTER UPDATE OF tenant_id, scim_id ON groups
    WHEN OLD.tenant_id IS NOT NEW.tenant_id OR (OLD.scim_id IS NULL) IS NOT (NEW.scim_id IS NULL)
BEGIN
    UPDATE scim_counts SET n = n - 1, changes = changes + 1
        WHERE tenant_id = OLD.tenant_id AND kind = 'groups' AND OLD.scim_id IS NOT NULL;
    INSERT INTO scim_counts (tenant_id, kind, n, changes)
        SELECT NEW.tenant_id, 'groups', 1, 1 WHERE NEW.scim_id IS NOT NULL
        ON CONFLICT (tenant_id, kind) DO UPDATE SET n = n + 1, changes = changes + 1;
END;
