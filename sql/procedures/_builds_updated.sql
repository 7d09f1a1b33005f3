-- _builds_updated: an updated build shows on its package's pages; a moved build's wheels follow it.
CREATE OR REPLACE FUNCTION piw._builds_updated()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The pages of the package before and after. A build moved to another package takes its
    -- files with it: their wheels are at simple/OLD/ on disk, and a delete_wheel of the old path
    -- moves each to where its row now says (see the listener's delete_wheel), or deletes it when
    -- no row has it any more.
    PERFORM piw._enqueue(
        ARRAY(SELECT ROW('delete_wheel', o.package, f.filename)::piw.job_target
                FROM old_rows o
                JOIN new_rows n ON n.build_id = o.build_id
                JOIN piw.files f ON f.build_id = n.build_id
               WHERE n.package <> o.package)
        || piw._page_targets(ARRAY(
               SELECT o.package FROM old_rows o
               UNION
               SELECT n.package FROM new_rows n)));
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION piw._builds_updated() IS 'trigger: queue the pages of the packages whose builds changed, before and after the update, and the move of the wheels of builds moved to another package';
