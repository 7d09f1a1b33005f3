-- _package_page_targets: the pages of a set of packages alone (no home page, no search index).
--
-- For what adds to packages that are listed already (a version, a build, a file): the home page's
-- figures and the search index follow at the next count (piw.count_downloads, once a minute),
-- not on every import.
CREATE OR REPLACE FUNCTION piw._package_page_targets(packages text[])
RETURNS piw.job_target[]
LANGUAGE sql IMMUTABLE
AS $$
    SELECT coalesce(array_agg(ROW('index', p.package, '')::piw.job_target ORDER BY p.package), '{}')
      FROM (SELECT DISTINCT u.package FROM unnest(_package_page_targets.packages) AS u(package)
             WHERE u.package IS NOT NULL) AS p
$$;

COMMENT ON FUNCTION piw._package_page_targets(text[]) IS 'internal: request targets for the simple and project pages of these packages (index), without home and search; none for an empty array';
