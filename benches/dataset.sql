-- Benchmark dataset, shaped like piwheels, generated set-based in one call:
--
--   CALL piw_bench.generate(packages => 2000, versions => 5, compiled_share => 0.5);   -- "small"
--   CALL piw_bench.generate(packages => 600000, versions => 5, compiled_share => 0.01, compiled_versions => 1);  -- "large"
--
-- Pure packages have one py3-none-any wheel per version; compiled ones are built for three ABIs, one
-- build in five failing, two platform wheels per success. Files get apt and pip dependencies and
-- ~3 logged downloads each; some versions are skipped, some yanked, some wheels carry
-- requires_python. Triggers are bypassed (session_replication_role = replica, superuser only) and
-- the queue is emptied: the benchmark queues exactly the work it measures.

CREATE SCHEMA IF NOT EXISTS piw_bench;

CREATE OR REPLACE PROCEDURE piw_bench.generate(
    packages integer,
    versions integer DEFAULT 5,
    compiled_share double precision DEFAULT 0.5,
    compiled_versions integer DEFAULT NULL,
    downloads_per_file integer DEFAULT 3)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_compiled integer := round(generate.packages * generate.compiled_share);
    v_compiled_versions integer := coalesce(generate.compiled_versions, generate.versions);
BEGIN
    SET LOCAL session_replication_role = replica;
    TRUNCATE piw.downloads, piw.download_counts, piw.download_totals, piw.dependencies, piw.files, piw.builds, piw.versions,
             piw.packages, piw.build_abis, piw.jobs, piw.requests;

    INSERT INTO piw.build_abis (abi_tag) VALUES ('cp39'), ('cp311'), ('cp313');

    -- pkg-0000001 ... ; the first v_compiled are compiled. One in 500 is skipped.
    INSERT INTO piw.packages (package, skip, description)
    SELECT format('pkg-%s', lpad(n::text, 7, '0')),
           CASE WHEN n % 500 = 0 THEN 'skipped for the benchmark' ELSE '' END,
           format('Package number %s: does useful things <fast> & "safely"', n)
      FROM generate_series(1, generate.packages) AS n;

    INSERT INTO piw.versions (package, version, released, skip, yanked)
    SELECT format('pkg-%s', lpad(n::text, 7, '0')), format('1.%s.0', v),
           timestamptz '2020-01-01' + (n % 1000) * interval '1 hour' + v * interval '30 days',
           CASE WHEN (n + v) % 97 = 0 THEN 'broken upstream' ELSE '' END,
           (n + v) % 53 = 0
      FROM generate_series(1, generate.packages) AS n
     CROSS JOIN LATERAL generate_series(1, CASE WHEN n <= v_compiled THEN v_compiled_versions ELSE generate.versions END) AS v;

    -- Pure: one build per version. Compiled: one build per ABI, every fifth failing.
    INSERT INTO piw.builds (package, version, built_by, built_at, duration, status, abi_tag)
    SELECT ver.package, ver.version, 1, ver.released + interval '1 hour', interval '42 seconds', true, 'none'
      FROM piw.versions ver
     WHERE substr(ver.package, 5)::integer > v_compiled
    UNION ALL
    SELECT ver.package, ver.version, 2, ver.released + interval '2 hours', interval '5 minutes',
           (hashtext(ver.package || ver.version || abi.abi_tag) % 5) <> 0, abi.abi_tag
      FROM piw.versions ver CROSS JOIN piw.build_abis abi
     WHERE substr(ver.package, 5)::integer <= v_compiled;

    INSERT INTO piw.files (filename, build_id, filesize, filehash, package_tag, package_version_tag,
                           py_version_tag, abi_tag, platform_tag, requires_python)
    SELECT format('%s-%s-%s-%s-%s.whl', replace(b.package, '-', '_'), b.version, py, b.abi_tag, platform),
           b.build_id, 10000 + b.build_id % 90000,
           encode(sha256(convert_to(b.build_id::text || platform, 'UTF8')), 'hex'),
           replace(b.package, '-', '_'), b.version, py, b.abi_tag, platform,
           CASE WHEN b.build_id % 3 = 0 THEN '>=3.7' END
      FROM piw.builds b
     CROSS JOIN LATERAL (
           SELECT 'py3' AS py, 'any' AS platform WHERE b.abi_tag = 'none'
           UNION ALL
           SELECT b.abi_tag, p FROM unnest(ARRAY['linux_armv6l', 'linux_armv7l']) AS p WHERE b.abi_tag <> 'none'
           ) AS tags
     WHERE b.status;

    INSERT INTO piw.dependencies (filename, tool, dependency)
    SELECT f.filename, 'apt', 'libatlas3-base' FROM piw.files f WHERE f.abi_tag <> 'none'
    UNION ALL
    SELECT f.filename, 'pip', 'numpy' FROM piw.files f WHERE f.build_id % 4 = 0;

    INSERT INTO piw.downloads (filename, accessed_by, accessed_at, arch, distro_name, distro_version,
                               os_name, os_version, py_name, py_version, installer_name, installer_version)
    SELECT f.filename, inet '192.0.2.1' + (d % 250), now() - (d * 11 % 90) * interval '1 day',
           'armv7l', 'Raspbian', '12', 'Linux', '6.1', 'CPython', '3.11', 'pip', '23.0'
      FROM piw.files f CROSS JOIN generate_series(1, generate.downloads_per_file) AS d;

    -- Counted as a listener would (this transaction's downloads are visible to its own count); the
    -- count queues home and search, which the benchmark queues itself when it measures them.
    PERFORM piw.count_downloads('0');
    TRUNCATE piw.requests;

    ANALYZE piw.packages, piw.versions, piw.builds, piw.files, piw.dependencies, piw.downloads,
            piw.download_counts, piw.download_totals;
END
$$;

COMMENT ON PROCEDURE piw_bench.generate(integer, integer, double precision, integer, integer) IS
'Benchmark only: replace every row of the piw tables with a generated piwheels-shaped dataset.';
