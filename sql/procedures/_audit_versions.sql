-- _audit_versions: a statement changed versions or builds; the audit counts them.
CREATE OR REPLACE FUNCTION piw._audit_versions()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rows     bigint;
    v_packages bigint;
    v_pairs    bigint;
    v_package  text;
    v_version  text;
BEGIN
    -- Static SQL for each side (a transition table exists only for its own event): no dynamic SQL.
    IF TG_OP = 'DELETE' THEN
        SELECT count(*), count(DISTINCT r.package), count(DISTINCT (r.package, r.version)), min(r.package), min(r.version)
          INTO v_rows, v_packages, v_pairs, v_package, v_version
          FROM old_rows r;
    ELSE
        SELECT count(*), count(DISTINCT r.package), count(DISTINCT (r.package, r.version)), min(r.package), min(r.version)
          INTO v_rows, v_packages, v_pairs, v_package, v_version
          FROM new_rows r;
    END IF;
    PERFORM piw._audit_count(TG_TABLE_NAME, TG_OP, v_rows, v_packages, v_pairs, v_package, v_version);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._audit_versions() IS 'trigger (versions, builds): count the changed rows in piw.audit (see piw._audit_count)';
