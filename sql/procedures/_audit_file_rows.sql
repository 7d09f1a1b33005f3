-- _audit_file_rows: a statement changed rows about files (dependencies, downloads); the audit counts them.
CREATE OR REPLACE FUNCTION piw._audit_file_rows()
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
        SELECT count(*), count(DISTINCT b.package), count(DISTINCT (b.package, b.version)), min(b.package), min(b.version)
          INTO v_rows, v_packages, v_pairs, v_package, v_version
          FROM old_rows r
          LEFT JOIN piw.files f ON f.filename = r.filename
          LEFT JOIN piw.builds b ON b.build_id = f.build_id;
    ELSE
        SELECT count(*), count(DISTINCT b.package), count(DISTINCT (b.package, b.version)), min(b.package), min(b.version)
          INTO v_rows, v_packages, v_pairs, v_package, v_version
          FROM new_rows r
          LEFT JOIN piw.files f ON f.filename = r.filename
          LEFT JOIN piw.builds b ON b.build_id = f.build_id;
    END IF;
    PERFORM piw._audit_count(TG_TABLE_NAME, TG_OP, v_rows, v_packages, v_pairs, v_package, v_version);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._audit_file_rows() IS 'trigger (dependencies; downloads: updates and deletes): count the changed rows in piw.audit (see piw._audit_count)';
