-- V021: each package's download figures in one row (issue 19). The pages read
-- piw.download_counts, up to 31 rows a package (each of the last 30 days and the days before), so
-- the home page and the search index still cost more the more days a package was downloaded on:
-- 1.66x as long with 300 downloads a file as with 3. piw.download_totals holds what they show,
-- one row a package.
--
-- What holds after every statement, per package:
--   total  = the sum of its piw.download_counts
--   recent = the sum of its counts of days after '-infinity' (the days not folded yet)
-- so recent is the last 30 days' figure once the day's fold is done (folded_before is the first
-- of the 30 days); until then the pages sum the counts themselves.
--
-- A trigger on the counts keeps the totals, whoever writes the counts: a count, a removal's
-- adjustment, the day's fold, a recount, the owner by hand, and, during an upgrade, a routine
-- still running its body from before this migration. The trigger fires in every
-- session_replication_role (ENABLE ALWAYS): the totals are the counts' own figures, not an
-- action. Its body is here, not in sql/procedures/ (applied after the migrations, in another
-- transaction): a stub until then would let counts change without their totals.

-- Before any snapshot is taken (under a default isolation level above READ COMMITTED the first
-- statement would take the migration's): the counts are written by nobody else until it commits.
LOCK TABLE piw.download_counts IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE piw.download_totals (
    package text   PRIMARY KEY,
    recent  bigint NOT NULL,
    total   bigint NOT NULL
);
COMMENT ON TABLE piw.download_totals IS
'each package''s downloads as piw.download_counts holds them, in one row for the pages: total, all of its counts; recent, those of days not folded into ''-infinity'' (the last 30 days once piw.download_counting.folded_before is the first of them). Package '''' for files piw did not know when counted. Kept by a trigger on piw.download_counts';

-- No SECURITY DEFINER or SET clause (see piw._enqueue): only piw's routines and the owner write
-- the counts, and they may write the totals.
CREATE FUNCTION piw._download_counts_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- Each branch reads only the transition tables its statement has. An upsert of the counts
    -- fires two of these (its inserts', its updates'), each in package order but not one order
    -- together: writers that may run at once (piw._add_download_counts, under the counting
    -- row's share lock) lock their packages' totals in package order first. The others (the
    -- fold, a recount, a TRUNCATE) hold the counting row alone.
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM piw.download_totals;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO piw.download_totals AS s (package, recent, total)
        SELECT n.package, coalesce(sum(n.downloads) FILTER (WHERE n.day > '-infinity'), 0), sum(n.downloads)
          FROM new_rows n
         GROUP BY n.package
         ORDER BY n.package
            ON CONFLICT (package) DO UPDATE SET recent = s.recent + excluded.recent, total = s.total + excluded.total;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE piw.download_totals s
           SET recent = s.recent - o.recent, total = s.total - o.total
          FROM (SELECT o.package, coalesce(sum(o.downloads) FILTER (WHERE o.day > '-infinity'), 0) AS recent,
                       sum(o.downloads) AS total
                  FROM old_rows o
                 GROUP BY o.package) o
         WHERE s.package = o.package;
    ELSE
        INSERT INTO piw.download_totals AS s (package, recent, total)
        SELECT c.package, coalesce(sum(c.downloads) FILTER (WHERE c.day > '-infinity'), 0), sum(c.downloads)
          FROM (SELECT n.package, n.day, n.downloads FROM new_rows n
                UNION ALL
                SELECT o.package, o.day, -o.downloads FROM old_rows o) c
         GROUP BY c.package
         ORDER BY c.package
            ON CONFLICT (package) DO UPDATE SET recent = s.recent + excluded.recent, total = s.total + excluded.total;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION piw._download_counts_changed() IS
'trigger: add a statement''s changes of piw.download_counts to piw.download_totals, per package (a TRUNCATE empties them)';

CREATE TRIGGER _900_totals_insert AFTER INSERT ON piw.download_counts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION piw._download_counts_changed();
CREATE TRIGGER _900_totals_update AFTER UPDATE ON piw.download_counts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION piw._download_counts_changed();
CREATE TRIGGER _900_totals_delete AFTER DELETE ON piw.download_counts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION piw._download_counts_changed();
CREATE TRIGGER _900_totals_truncate AFTER TRUNCATE ON piw.download_counts
    FOR EACH STATEMENT EXECUTE FUNCTION piw._download_counts_changed();
ALTER TABLE piw.download_counts ENABLE ALWAYS TRIGGER _900_totals_insert;
ALTER TABLE piw.download_counts ENABLE ALWAYS TRIGGER _900_totals_update;
ALTER TABLE piw.download_counts ENABLE ALWAYS TRIGGER _900_totals_delete;
ALTER TABLE piw.download_counts ENABLE ALWAYS TRIGGER _900_totals_truncate;

-- The totals of the counts as they stand. The lock taken first holds the counts against writes
-- until this migration commits, and waited for every transaction that had written them to end:
-- nothing is written meanwhile, and what is written after fires the triggers.
INSERT INTO piw.download_totals (package, recent, total)
SELECT c.package,
       coalesce(sum(c.downloads) FILTER (WHERE c.day > '-infinity'), 0)::bigint,
       sum(c.downloads)::bigint
  FROM piw.download_counts c
 GROUP BY c.package;
