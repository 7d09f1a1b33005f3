-- V014: each imported wheel's core metadata is served beside it (PEP 658 / PEP 714).
--
-- piw-import extracts the wheel's METADATA into simple/PACKAGE/FILENAME.metadata and records its
-- sha256 here; the simple pages then carry data-core-metadata (and the older
-- data-dist-info-metadata), so pip and uv resolve without downloading whole wheels. Rows written
-- without the importer (psql, piwheels' own tables) have none, and their pages say nothing.

ALTER TABLE piw.files ADD COLUMN metadata_hash char(64) CHECK (metadata_hash ~ '^[0-9a-f]{64}$');
COMMENT ON COLUMN piw.files.metadata_hash IS 'sha256 (hex) of simple/PACKAGE/FILENAME.metadata, the wheel''s METADATA (PEP 658); null when the wheel''s metadata is not served';
