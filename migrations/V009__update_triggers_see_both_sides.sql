-- V009: UPDATE triggers see the rows before and after the statement.
--
-- The UPDATE triggers of packages, versions, builds and dependencies saw one side only (the old
-- rows of versions, the new rows of the others): an UPDATE that moved rows between packages
-- (a renamed package, a build or version moved to another package, a dependency moved to another
-- file) queued the pages of one package and left the other's stale for ever, and a renamed
-- package's directories on disk. They now get both transition tables, and functions of their
-- own (whose bodies live in sql/procedures/, applied after the migrations).

CREATE FUNCTION piw._packages_updated() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._package_rows_updated() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._builds_updated() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._dependencies_updated() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;

DROP TRIGGER _900_enqueue_update ON piw.packages;
CREATE TRIGGER _900_enqueue_update AFTER UPDATE ON piw.packages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._packages_updated();

DROP TRIGGER _900_enqueue_update ON piw.versions;
CREATE TRIGGER _900_enqueue_update AFTER UPDATE ON piw.versions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._package_rows_updated();

DROP TRIGGER _900_enqueue_update ON piw.builds;
CREATE TRIGGER _900_enqueue_update AFTER UPDATE ON piw.builds
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._builds_updated();

DROP TRIGGER _900_enqueue_update ON piw.dependencies;
CREATE TRIGGER _900_enqueue_update AFTER UPDATE ON piw.dependencies
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION piw._dependencies_updated();
