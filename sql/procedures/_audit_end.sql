-- _audit_end: an admin procedure is done; what it queued joins its audit row, and later
-- statements of the transaction are direct changes again.
CREATE OR REPLACE FUNCTION piw._audit_end(audit_id bigint, queued jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF _audit_end.queued <> '{}' THEN
        UPDATE piw.audit a SET changed = a.changed || _audit_end.queued
         WHERE a.audit_id = _audit_end.audit_id;
    END IF;
    PERFORM set_config('piw.audit_id', '', true);
END
$$;

COMMENT ON FUNCTION piw._audit_end(bigint, jsonb) IS 'internal: add what the procedure queued (pages, wheels) to its audit row and stop counting row changes into it';
