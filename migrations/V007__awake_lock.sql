-- V007: enqueuers tell an awake listener by a lock, not by this table.
--
-- An awake listener holds the awake lock (advisory key (1885959938, 1)) shared on the session of
-- its heartbeats, and enqueuers take it to look (see piw._wake_listeners): no table read on the
-- way of every admin call (that read was a tenth of one), a look that holds at every isolation
-- level, and a listener that dies stops counting as awake with its session. The table stays: it
-- says who runs and who is awake, and heartbeats keep the leases and find dead listeners there.
COMMENT ON TABLE piw.listeners IS 'running listener daemons, as their heartbeats say; an awake one (draining the queue, sure to look again before it sleeps) also holds the awake lock, which is what enqueuers look at';
COMMENT ON COLUMN piw.listeners.awake IS 'what the listener last said; enqueuers look at the awake lock it holds meanwhile (see piw._wake_listeners)';
