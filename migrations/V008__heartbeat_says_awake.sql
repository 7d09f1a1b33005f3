-- V008: piw.listener_heartbeat says whether the listener is awake after the call.
--
-- Going to sleep waited for every enqueuer that had counted on the listener being awake, taking
-- the wake lock exclusively; while it waited, every new enqueuer waited behind it, for as long as
-- the slowest of those transactions lasted (a long import: minutes of stalled admin calls). It now
-- only tries: when an enqueuer that counted on the listener has not committed, the listener stays
-- awake, is told so, and tries again later. The return type changes, so the function is dropped
-- here (when an older schema has it) and created again from
-- sql/procedures/listener_heartbeat.sql.
DROP FUNCTION IF EXISTS piw.listener_heartbeat(text, boolean, interval);
