-- V003: triggers that turn every row change affecting the published site into queued disk work.
-- The trigger functions are created here with empty bodies only so the triggers can be attached;
-- their real bodies live in sql/procedures/ and are (re)applied after the migrations.

CREATE FUNCTION piw._builds_before_delete() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN OLD; END$$;
CREATE FUNCTION piw._files_inserted() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._files_updated() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._files_deleted() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._package_rows_changed() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._dependencies_changed() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._packages_changed() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._packages_deleted() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._downloads_changed() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;

-- A build's files go before the build itself, while the build row still says which package they
-- belong to: the files trigger needs it to find simple/PACKAGE/FILENAME.
CREATE TRIGGER _100_delete_files BEFORE DELETE ON piw.builds
    FOR EACH ROW EXECUTE FUNCTION piw._builds_before_delete();

CREATE TRIGGER _900_enqueue_insert AFTER INSERT ON piw.files
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._files_inserted();
CREATE TRIGGER _900_enqueue_update AFTER UPDATE ON piw.files
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._files_updated();
CREATE TRIGGER _900_enqueue_delete AFTER DELETE ON piw.files
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._files_deleted();

CREATE TRIGGER _900_enqueue_insert AFTER INSERT ON piw.builds
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._package_rows_changed();
CREATE TRIGGER _900_enqueue_update AFTER UPDATE ON piw.builds
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._package_rows_changed();
CREATE TRIGGER _900_enqueue_delete AFTER DELETE ON piw.builds
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._package_rows_changed();

CREATE TRIGGER _900_enqueue_insert AFTER INSERT ON piw.versions
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._package_rows_changed();
CREATE TRIGGER _900_enqueue_update AFTER UPDATE ON piw.versions
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._package_rows_changed();
CREATE TRIGGER _900_enqueue_delete AFTER DELETE ON piw.versions
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._package_rows_changed();

CREATE TRIGGER _900_enqueue_insert AFTER INSERT ON piw.dependencies
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._dependencies_changed();
CREATE TRIGGER _900_enqueue_update AFTER UPDATE ON piw.dependencies
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._dependencies_changed();
CREATE TRIGGER _900_enqueue_delete AFTER DELETE ON piw.dependencies
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._dependencies_changed();

CREATE TRIGGER _900_enqueue_insert AFTER INSERT ON piw.packages
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._packages_changed();
CREATE TRIGGER _900_enqueue_update AFTER UPDATE ON piw.packages
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._packages_changed();
CREATE TRIGGER _900_enqueue_delete AFTER DELETE ON piw.packages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._packages_deleted();

CREATE TRIGGER _900_enqueue_insert AFTER INSERT ON piw.downloads
    FOR EACH STATEMENT EXECUTE FUNCTION piw._downloads_changed();
CREATE TRIGGER _900_enqueue_update AFTER UPDATE ON piw.downloads
    FOR EACH STATEMENT EXECUTE FUNCTION piw._downloads_changed();
CREATE TRIGGER _900_enqueue_delete AFTER DELETE ON piw.downloads
    FOR EACH STATEMENT EXECUTE FUNCTION piw._downloads_changed();
