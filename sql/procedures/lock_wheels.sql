-- lock_wheels: guard a package's wheels on disk until the transaction ends.
CREATE OR REPLACE FUNCTION piw.lock_wheels(package text, exclusive boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- An importer puts a wheel in place before its rows commit; a listener retiring a package's
    -- wheels checks that their rows are gone, then deletes. Without the lock the check could run
    -- between the importer's write and its commit, and the new wheel would be deleted under a
    -- row that exists. Importers share (FOR KEY SHARE: they never wait for each other); a
    -- listener excludes (FOR UPDATE): it waits for the importers' commits and they for its.
    IF coalesce(lock_wheels.exclusive, false) THEN
        PERFORM 1 FROM piw.wheel_locks w WHERE w.slot = piw._wheel_slot(lock_wheels.package) FOR UPDATE;
    ELSE
        PERFORM 1 FROM piw.wheel_locks w WHERE w.slot = piw._wheel_slot(lock_wheels.package) FOR KEY SHARE;
    END IF;
END
$$;

COMMENT ON FUNCTION piw.lock_wheels(text, boolean) IS
'For importers (shared) and listeners (exclusive): guard package''s wheels on disk until the transaction ends. An importer takes it before putting a wheel in place and holds it until its rows commit; a listener deleting or moving the package''s wheels holds it exclusively from checking their rows until its deletion or move has committed (the job is marked done after).';
