-- _refuse_truncate: TRUNCATE bypasses the triggers that delete wheels from disk.
CREATE OR REPLACE FUNCTION piw._refuse_truncate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of %.% is refused: it would leave wheels on disk with nothing queued to delete them',
                    TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = '0A000',
              HINT = 'use DELETE (its triggers queue the deletions), or piw.remove_package / piw.remove_version';
END
$$;

COMMENT ON FUNCTION piw._refuse_truncate() IS 'trigger: refuse TRUNCATE of packages, versions, builds and files (it skips the triggers that keep the disk in step); use DELETE';
