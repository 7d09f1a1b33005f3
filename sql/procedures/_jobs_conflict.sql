-- _jobs_conflict: whether two jobs may not run at the same time.
CREATE OR REPLACE FUNCTION piw._jobs_conflict(
    kind_a text, package_a text, filename_a text, kind_b text, package_b text, filename_b text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
    SELECT
        -- the same target: one writer per page
        (kind_a = kind_b AND package_a = package_b AND filename_a = filename_b)
        -- a full rebuild streams every package from one snapshot: a package's own page job (or the
        -- deletion of its directories) running beside it could land before the older full render
        OR (kind_a IN ('simple_all', 'project_all') AND kind_b IN ('simple', 'project', 'delete_package'))
        OR (kind_b IN ('simple_all', 'project_all') AND kind_a IN ('simple', 'project', 'delete_package'))
        -- a reconciliation compares the whole tree with the rows: it runs alone among the jobs
        -- that write or delete in packages' directories (and after a full rebuild queued with it)
        OR (kind_a = 'reconcile' AND kind_b IN ('simple', 'project', 'delete_package', 'delete_wheel', 'place_wheel', 'simple_all', 'project_all'))
        OR (kind_b = 'reconcile' AND kind_a IN ('simple', 'project', 'delete_package', 'delete_wheel', 'place_wheel', 'simple_all', 'project_all'))
        -- a wheel being moved in or out of the served tree and its deletion: one at a time (both
        -- look at its row under the wheels lock, but a deletion retires before it commits)
        OR (package_a = package_b AND filename_a = filename_b AND filename_a <> ''
            AND kind_a IN ('delete_wheel', 'place_wheel') AND kind_b IN ('delete_wheel', 'place_wheel'))
        -- a page rendered while its package existed must not land after the package's directories
        -- go, and a wheel on its way to another package (see delete_wheel) must not go with them
        OR (package_a = package_b AND package_a <> ''
            AND kind_a IN ('simple', 'project', 'delete_package', 'delete_wheel', 'place_wheel')
            AND kind_b IN ('simple', 'project', 'delete_package', 'delete_wheel', 'place_wheel')
            AND (kind_a = 'delete_package' OR kind_b = 'delete_package'))
$$;

COMMENT ON FUNCTION piw._jobs_conflict(text, text, text, text, text, text) IS
'internal: true when two jobs must not run at once: the same target; a full rebuild and any package''s page or directory job; a package''s directory deletion and its page and wheel jobs; the deletion and the move of one wheel; a reconciliation and any job in packages'' directories';
