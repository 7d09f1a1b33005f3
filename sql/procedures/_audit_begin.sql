-- _audit_begin: an admin procedure starts; its audit row is written first, and the triggers
-- count the rows it changes into it.
--
-- No SET clause (see piw._enqueue): it runs inside piw's procedures only, which have one.
CREATE OR REPLACE FUNCTION piw._audit_begin(action text, package text, version text DEFAULT NULL, reason text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_audit_id bigint;
BEGIN
    INSERT INTO piw.audit (action, package, version, reason)
    VALUES (_audit_begin.action, _audit_begin.package, _audit_begin.version, _audit_begin.reason)
    RETURNING audit_id INTO v_audit_id;
    PERFORM set_config('piw.audit_id', v_audit_id::text, true);
    RETURN v_audit_id;
END
$$;

COMMENT ON FUNCTION piw._audit_begin(text, text, text, text) IS 'internal: append the audit row of the admin procedure now running and make it the one the row triggers count into (until piw._audit_end)';
