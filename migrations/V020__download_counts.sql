-- V020: download counts kept as they grow (issue 19). The home page and the search index used to
-- count the whole download log on every rewrite, and every logged download queued both.
--
-- The same count refreshes the home page's figures of versions and files: a new version or wheel
-- of a listed package queues that package's pages at once, and the home page at the next count
-- (once a minute), not on every import; what changes the listing (a new package, a removal, a
-- skip) still queues home and search at once.
--
-- Now a logged download costs its INSERT and nothing more: no trigger fires. Each row records the
-- transaction that logged it (logged_xid, filled in by its default), indexed by a BRIN summary
-- that an INSERT barely touches. piw.count_downloads() (the listener calls it once a minute)
-- adds the downloads of every transaction finished since the last count to piw.download_counts,
-- per package and UTC day, and queues the home page and search index if any were added: download
-- counts alone rewrite them at most once per interval, while listing changes queue them at once
-- as before. A transaction still running at a count is counted by a later one, never twice:
-- piw.download_counting.counted is the snapshot of the last count, and a download is counted once
-- its transaction is visible in it. Pages read the counts plus the few rows logged since.
--
-- Deleting or updating logged downloads (removal, an admin's correction) adjusts the counts of
-- rows already counted in the same statement (trigger bodies in sql/procedures/).

-- Existing rows read 0 (a transaction id below any real one): the count below takes them.
-- (bigint and xid8 meet through text: xid8 has no cast from bigint.)
ALTER TABLE piw.downloads ADD COLUMN logged_xid bigint NOT NULL DEFAULT 0;
ALTER TABLE piw.downloads ALTER COLUMN logged_xid SET DEFAULT (pg_catalog.pg_current_xact_id()::text::bigint);
COMMENT ON COLUMN piw.downloads.logged_xid IS
'the transaction that logged the download (its default; not writable by piw_admin): piw.count_downloads() counts the downloads of finished transactions not counted yet';
-- bigint, not xid8: xid8 has no BRIN operator class, and a B-tree would cost every logged
-- download an index insertion. autosummarize: each filled range is summarized soon, so a count
-- reads the unsummarized tail and the ranges it needs.
CREATE INDEX downloads_logged_xid ON piw.downloads USING brin (logged_xid) WITH (pages_per_range = 32, autosummarize = on);

CREATE TABLE piw.download_counts (
    package   text   NOT NULL,
    day       date   NOT NULL,
    downloads bigint NOT NULL,
    PRIMARY KEY (package, day)
);
COMMENT ON TABLE piw.download_counts IS
'downloads counted by piw.count_downloads(), per package and UTC day; package '''' for files piw did not know when counted; day ''-infinity'' for the days before the 30 the pages show apart (folded in as days pass). Maintained by piw''s routines alone';

CREATE TABLE piw.download_counting (
    one           boolean     PRIMARY KEY DEFAULT true CHECK (one),
    counted       pg_snapshot NOT NULL,
    counted_at    timestamptz NOT NULL,
    folded_before date        NOT NULL,
    home_versions bigint      NOT NULL DEFAULT -1,
    home_files    bigint      NOT NULL DEFAULT -1
);
COMMENT ON TABLE piw.download_counting IS
'one row: the downloads of transactions visible in the snapshot counted (finished when it was taken) are in piw.download_counts; counted_at: the last count; folded_before: days before it are folded into day ''-infinity''; home_versions, home_files: the home page''s figures then (a count queues the home page when they changed: imports do not). Its row lock orders counts and the adjustments of deletions';

CREATE TYPE piw.download_tally AS (filename text, day date, downloads bigint);
COMMENT ON TYPE piw.download_tally IS 'downloads of a file on a UTC day (negative: taken back), as piw._add_download_counts adds them';

-- The log as it stands, counted once, here (the table is locked by the ALTER above).
WITH counting AS (
    INSERT INTO piw.download_counting (counted, counted_at, folded_before)
    VALUES (pg_catalog.pg_current_snapshot(), now(),
            (now() AT TIME ZONE 'UTC')::date - 29)
    RETURNING folded_before
)
INSERT INTO piw.download_counts (package, day, downloads)
SELECT coalesce(b.package, ''),
       CASE WHEN (d.accessed_at AT TIME ZONE 'UTC')::date < c.folded_before THEN '-infinity'::date
            ELSE (d.accessed_at AT TIME ZONE 'UTC')::date END,
       count(*)
  FROM piw.downloads d
 CROSS JOIN counting c
  LEFT JOIN piw.files f ON f.filename = d.filename
  LEFT JOIN piw.builds b ON b.build_id = f.build_id
 GROUP BY 1, 2;

-- Logging no longer queues anything; deletions and updates adjust the counts (and queue the
-- pages, as before); TRUNCATE empties them.
DROP TRIGGER _900_enqueue_insert ON piw.downloads;
DROP TRIGGER _900_enqueue_update ON piw.downloads;
DROP TRIGGER _900_enqueue_delete ON piw.downloads;
DROP FUNCTION piw._downloads_changed();
CREATE FUNCTION piw._downloads_deleted() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._downloads_updated() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE FUNCTION piw._downloads_truncated() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE TRIGGER _900_count_delete AFTER DELETE ON piw.downloads
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION piw._downloads_deleted();
CREATE TRIGGER _900_count_update AFTER UPDATE ON piw.downloads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION piw._downloads_updated();
CREATE TRIGGER _900_count_truncate AFTER TRUNCATE ON piw.downloads
    FOR EACH STATEMENT EXECUTE FUNCTION piw._downloads_truncated();
