-- V004: TRUNCATE skips row and statement triggers alike, so truncating a table that publishes
-- wheels would leave them on disk with nothing queued to delete them. It is refused; DELETE does
-- the same work through the triggers. (Only the tables' owner or a superuser can TRUNCATE at all:
-- piw_admin has no TRUNCATE privilege.) The function's real body lives in sql/procedures/.

CREATE FUNCTION piw._refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;

CREATE TRIGGER _000_refuse_truncate BEFORE TRUNCATE ON piw.packages
    FOR EACH STATEMENT EXECUTE FUNCTION piw._refuse_truncate();
CREATE TRIGGER _000_refuse_truncate BEFORE TRUNCATE ON piw.versions
    FOR EACH STATEMENT EXECUTE FUNCTION piw._refuse_truncate();
CREATE TRIGGER _000_refuse_truncate BEFORE TRUNCATE ON piw.builds
    FOR EACH STATEMENT EXECUTE FUNCTION piw._refuse_truncate();
CREATE TRIGGER _000_refuse_truncate BEFORE TRUNCATE ON piw.files
    FOR EACH STATEMENT EXECUTE FUNCTION piw._refuse_truncate();
