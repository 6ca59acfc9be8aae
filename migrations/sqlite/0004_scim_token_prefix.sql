-- A recognisable, non-secret prefix of each SCIM token, for the admin console's list.
ALTER TABLE scim_tokens ADD COLUMN prefix TEXT NOT NULL DEFAULT '';
