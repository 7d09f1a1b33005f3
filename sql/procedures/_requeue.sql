-- _requeue: queue a job's target again.
CREATE OR REPLACE FUNCTION piw._requeue(kind text, package text, filename text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF _requeue.kind IS NULL THEN
        RETURN;
    END IF;
    -- A row of piw.jobs checks its kind; a request is moved into piw.jobs by the claim as it is.
    IF _requeue.kind NOT IN ('home', 'search', 'simple_root', 'simple', 'project', 'simple_all', 'project_all',
                             'delete_wheel', 'delete_package', 'reconcile', 'place_wheel') THEN
        RAISE EXCEPTION 'unknown job kind %', piw._quote_arg(_requeue.kind) USING ERRCODE = '22023';
    END IF;
    INSERT INTO piw.requests (kind, package, filename)
    VALUES (_requeue.kind, coalesce(_requeue.package, ''), coalesce(_requeue.filename, ''));
    PERFORM piw._wake_listeners();
END
$$;

COMMENT ON FUNCTION piw._requeue(text, text, text) IS 'internal: queue this target again (a job whose listener lost its lease while doing it: its work may be stale)';
