-- _audit_count: the rows one statement changed, counted into the audit log.
--
-- No SET clause (see piw._enqueue): it runs inside piw's trigger functions only, which have one.
CREATE OR REPLACE FUNCTION piw._audit_count(
    table_name text, operation text, changed_rows bigint, packages bigint, pairs bigint, package text, version text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_key     text := _audit_count.table_name
                      || CASE _audit_count.operation WHEN 'INSERT' THEN ' inserted' WHEN 'UPDATE' THEN ' updated' ELSE ' deleted' END;
    -- Named only when the statement concerned exactly one.
    v_package text := CASE WHEN _audit_count.packages = 1 THEN _audit_count.package END;
    v_version text := CASE WHEN _audit_count.packages = 1 AND _audit_count.pairs = 1 THEN _audit_count.version END;
    v_setting text := current_setting('piw.audit_id', true);
BEGIN
    IF _audit_count.changed_rows = 0 THEN
        RETURN;
    END IF;
    -- Inside a procedure: its own row, which already names what it concerns, gets the counts.
    -- Only a row of this transaction: a setting left over, or set by hand, cannot reach another.
    IF v_setting ~ '^[0-9]{1,18}$' THEN
        UPDATE piw.audit a
           SET changed = jsonb_set(a.changed, ARRAY[v_key], to_jsonb(coalesce((a.changed ->> v_key)::bigint, 0) + _audit_count.changed_rows))
         WHERE a.audit_id = v_setting::bigint
           AND a.request_id = pg_current_xact_id()
           AND a.action <> 'direct';
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    -- A direct change: one row per transaction, naming the package (and version) while every
    -- statement so far concerned the same one.
    UPDATE piw.audit a
       SET changed = jsonb_set(a.changed, ARRAY[v_key], to_jsonb(coalesce((a.changed ->> v_key)::bigint, 0) + _audit_count.changed_rows)),
           package = CASE WHEN a.package = v_package THEN a.package END,
           version = CASE WHEN a.package = v_package AND a.version = v_version THEN a.version END
     WHERE a.request_id = pg_current_xact_id()
       AND a.action = 'direct';
    IF NOT FOUND THEN
        INSERT INTO piw.audit (action, package, version, changed)
        VALUES ('direct', v_package, v_version, jsonb_build_object(v_key, _audit_count.changed_rows));
    END IF;
END
$$;

COMMENT ON FUNCTION piw._audit_count(text, text, bigint, bigint, bigint, text, text) IS 'internal: count rows a statement changed into piw.audit: into the running procedure''s row (piw._audit_begin), else into the transaction''s row of direct changes, naming the package and version while only one was concerned';
