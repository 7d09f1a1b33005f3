-- _wheel_slot: the row of piw.wheel_locks that guards a package's wheels.
CREATE OR REPLACE FUNCTION piw._wheel_slot(package text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.hashtext(_wheel_slot.package) & 1023
$$;

COMMENT ON FUNCTION piw._wheel_slot(text) IS 'internal: the slot of piw.wheel_locks that guards this package''s wheels (packages share the 1,024 slots)';
