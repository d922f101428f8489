-- uses: current_ns, record_hot, stored_parts, read_or_lease
-- The cached read of one key: its value if current, else a lease if nobody holds one (ops.read_or_lease).
-- KEYS, ARGV: read_or_lease's k and a (read_or_lease.lua names them).
-- Returns read_or_lease's reply.
return read_or_lease(KEYS, ARGV)
