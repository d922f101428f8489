-- uses: record_hot
-- Count one read of a hot family's key outside a cached read (hotness.record; the read script does it itself).
-- KEYS[1] hot set   KEYS[2] hot epoch
-- ARGV[1] member    ARGV[2] now   ARGV[3] half-life   ARGV[4] bound   ARGV[5] renormalise-after
-- Returns 1.
record_hot(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return 1
