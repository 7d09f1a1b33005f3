-- _audit_other: a statement changed rows of no package (build_abis, site); the audit counts them.
CREATE OR REPLACE FUNCTION piw._audit_other()
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
        SELECT count(*), count(DISTINCT NULL::text), count(DISTINCT (NULL::text, NULL::text)), min(NULL::text), min(NULL::text)
          INTO v_rows, v_packages, v_pairs, v_package, v_version
          FROM old_rows r;
    ELSE
        SELECT count(*), count(DISTINCT NULL::text), count(DISTINCT (NULL::text, NULL::text)), min(NULL::text), min(NULL::text)
          INTO v_rows, v_packages, v_pairs, v_package, v_version
          FROM new_rows r;
    END IF;
    PERFORM piw._audit_count(TG_TABLE_NAME, TG_OP, v_rows, v_packages, v_pairs, v_package, v_version);
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._audit_other() IS 'trigger (build_abis, site): count the changed rows in piw.audit (see piw._audit_count)';
