-- _page_targets: the pages that show a set of packages: their simple and project pages, home, search.
--
-- A package's two pages are one target, 'index' (piw.claim_jobs makes a job of each page): half
-- as many request rows for every row change that touches packages.
CREATE OR REPLACE FUNCTION piw._page_targets(packages text[], with_root boolean DEFAULT false)
RETURNS piw.job_target[]
LANGUAGE sql IMMUTABLE
AS $$
    SELECT coalesce(array_agg(pages.t ORDER BY pages.kind, pages.package), '{}')
      FROM (
            SELECT ROW('index', p.package, '')::piw.job_target AS t, 'index', p.package
              FROM unnest(_page_targets.packages) AS p(package)
             WHERE p.package IS NOT NULL
            UNION
            SELECT ROW(g.kind, '', '')::piw.job_target, g.kind, ''
              FROM (VALUES ('home'), ('search'), ('simple_root')) AS g(kind)
             WHERE cardinality(_page_targets.packages) > 0
               AND (g.kind <> 'simple_root' OR _page_targets.with_root)
           ) AS pages(t, kind, package)
$$;

COMMENT ON FUNCTION piw._page_targets(text[], boolean) IS 'internal: request targets for the pages that show these packages (index: their simple and project pages; home, search; with_root adds the simple root index); none for an empty array';
