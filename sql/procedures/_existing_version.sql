-- _existing_version: lock a version row for the caller's transaction, or raise P0002.
CREATE OR REPLACE FUNCTION piw._existing_version(package text, version text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_package text := piw._package_arg(_existing_version.package);
    v_version text := piw._version_arg(_existing_version.version);
BEGIN
    -- Locking the row makes a racing removal of the same version wait for ours, then find it gone.
    PERFORM 1 FROM piw.versions v
     WHERE v.package = v_package AND v.version = v_version
       FOR UPDATE;
    IF NOT FOUND THEN
        IF NOT EXISTS (SELECT 1 FROM piw.packages p WHERE p.package = v_package) THEN
            PERFORM piw._removed_before(v_package);
            RAISE EXCEPTION 'package % does not exist', v_package
                USING ERRCODE = 'P0002';
        END IF;
        PERFORM piw._removed_before(v_package, v_version);
        RAISE EXCEPTION 'version % of package % does not exist', piw._printable(v_version), v_package
            USING ERRCODE = 'P0002';
    END IF;
    RETURN v_package;
END
$$;

COMMENT ON FUNCTION piw._existing_version(text, text) IS 'internal: validate package and version arguments, lock the version row, return the normalized package name; P0002 if there is no such package or version; the message says when and by whom it was removed when the audit log knows';
