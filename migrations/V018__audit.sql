-- V018: who did what. Every admin procedure, and every direct change to the rows the site is
-- made of, appends to piw.audit in its own transaction.
--
-- One row per procedure call; the triggers add the counts of the rows its statements changed to
-- that row (a transaction-local setting, piw.audit_id, names it while the procedure runs). A
-- direct change (psql, an importer) gets one row per transaction, which every statement of the
-- transaction adds to. Logged downloads are not admin changes: inserting them is not audited
-- (it is the busiest write piw has), deleting or updating them is.
--
-- The same transaction id also names the work a transaction queued (piw.requests.request_id,
-- piw.jobs.request_ids, V019), so an audit row leads to the jobs it caused and a caller can wait
-- for exactly those.

CREATE TABLE piw.audit (
    audit_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    logged_at        timestamptz NOT NULL DEFAULT now(),
    role_name        text NOT NULL DEFAULT session_user,
    application_name text NOT NULL DEFAULT current_setting('application_name'),
    client_addr      inet DEFAULT inet_client_addr(),
    action           text NOT NULL,
    package          text,
    version          text,
    reason           text,
    changed          jsonb NOT NULL DEFAULT '{}',
    request_id       xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX audit_request ON piw.audit (request_id);
CREATE INDEX audit_package ON piw.audit (package, logged_at);
CREATE INDEX audit_logged_at ON piw.audit (logged_at);
COMMENT ON TABLE piw.audit IS 'who did what: one row per admin procedure call and per transaction of direct row changes; append-only for every role but its owner';
COMMENT ON COLUMN piw.audit.logged_at IS 'start of the transaction that made the change';
COMMENT ON COLUMN piw.audit.role_name IS 'the login role (session_user), not a role it had SET';
COMMENT ON COLUMN piw.audit.application_name IS 'the client''s application_name (the piw tools set their own name)';
COMMENT ON COLUMN piw.audit.client_addr IS 'the client''s address; null over a Unix socket';
COMMENT ON COLUMN piw.audit.action IS 'the procedure called (remove_version, skip_package, ...), or direct for row changes made outside piw''s procedures';
COMMENT ON COLUMN piw.audit.package IS 'the package concerned; null when the change concerned several or none';
COMMENT ON COLUMN piw.audit.version IS 'the version concerned; null when the change concerned several or none';
COMMENT ON COLUMN piw.audit.changed IS 'counts of what changed: rows by table and operation ("files deleted": 3), and for procedures the pages and wheels queued';
COMMENT ON COLUMN piw.audit.request_id IS 'the transaction (pg_current_xact_id()): the id of the request; the jobs it queued carry it (piw.request_jobs)';

-- Trigger bodies live in sql/procedures/, applied after the migrations: one function for each
-- shape of row (where a row says which package and version it belongs to).
CREATE FUNCTION piw._audit_packages() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._audit_versions() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._audit_files() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._audit_file_rows() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._audit_other() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;

DO $$
DECLARE
    v_table    text;
    v_function text;
    v_op       text;
BEGIN
    FOR v_table, v_function IN
        VALUES ('packages', '_audit_packages'), ('versions', '_audit_versions'), ('builds', '_audit_versions'),
               ('files', '_audit_files'), ('dependencies', '_audit_file_rows'), ('build_abis', '_audit_other'),
               ('site', '_audit_other')
    LOOP
        FOREACH v_op IN ARRAY ARRAY['INSERT', 'UPDATE', 'DELETE'] LOOP
            EXECUTE format(
                'CREATE TRIGGER %I AFTER %s ON piw.%I REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION piw.%I()',
                '_950_audit_' || lower(v_op), v_op, v_table,
                CASE v_op WHEN 'INSERT' THEN 'NEW TABLE AS new_rows'
                          WHEN 'UPDATE' THEN 'OLD TABLE AS old_rows NEW TABLE AS new_rows'
                          ELSE 'OLD TABLE AS old_rows' END,
                v_function);
        END LOOP;
    END LOOP;
END
$$;
-- Downloads: corrections and deletions only (see above).
CREATE TRIGGER _950_audit_update AFTER UPDATE ON piw.downloads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._audit_file_rows();
CREATE TRIGGER _950_audit_delete AFTER DELETE ON piw.downloads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._audit_file_rows();

-- The work a transaction queued carries its id, so that it can be followed to the end.
ALTER TABLE piw.requests ADD COLUMN request_id xid8 NOT NULL DEFAULT pg_current_xact_id();
COMMENT ON COLUMN piw.requests.request_id IS 'the requesting transaction (pg_current_xact_id()); becomes one of piw.jobs.request_ids';
ALTER TABLE piw.jobs ADD COLUMN request_ids xid8[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN piw.jobs.request_ids IS 'the transactions whose requests this job carries out (requests for one target fold into one job)';
