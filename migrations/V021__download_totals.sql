-- V021: each package's download figures in one row (issue 19). The pages read
-- piw.download_counts, up to 31 rows a package (each of the last 30 days and the days before), so
-- the home page and the search index still cost more the more days a package was downloaded on:
-- 1.66x as long with 300 downloads a file as with 3. piw.download_totals holds what they show,
-- one row a package, kept with the counts by the routines that write them
-- (piw._add_download_counts, the day's fold in piw.count_downloads, the log's TRUNCATE trigger).
--
-- What holds after every statement of those routines, per package:
--   total  = the sum of its piw.download_counts
--   recent = the sum of its counts of days after '-infinity' (the days not folded yet)
-- so recent is the last 30 days' figure once the day's fold is done (folded_before is the first
-- of the 30 days); until then the pages sum the counts themselves.

CREATE TABLE piw.download_totals (
    package text   PRIMARY KEY,
    recent  bigint NOT NULL,
    total   bigint NOT NULL
);
COMMENT ON TABLE piw.download_totals IS
'each package''s downloads as piw.download_counts holds them, in one row for the pages: total, all of its counts; recent, those of days not folded into ''-infinity'' (the last 30 days once piw.download_counting.folded_before is the first of them). Package '''' for files piw did not know when counted. Maintained by piw''s routines alone, with the counts';

INSERT INTO piw.download_totals (package, recent, total)
SELECT c.package,
       coalesce(sum(c.downloads) FILTER (WHERE c.day > '-infinity'), 0)::bigint,
       sum(c.downloads)::bigint
  FROM piw.download_counts c
 GROUP BY c.package;
