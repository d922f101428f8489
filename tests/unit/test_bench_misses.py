"""The ideal of the misses scenario (bench/misses.py): which observed misses an ideal cache would also have had."""

from bench.misses import _necessary_misses


def read(rid, start, x):
    return (f"/api/recipes/{rid}/", start, start + 0.001, x)


def test_one_miss_per_write_is_necessary_and_a_second_is_extra():
    writes = [(1, 10.0)]
    reads = [read(1, 9.0, "HIT"), read(1, 10.5, "MISS"), read(1, 10.6, "MISS"), read(1, 11.0, "HIT")]

    assert _necessary_misses(reads, writes) == 1


def test_several_writes_before_the_next_read_need_one_miss():
    writes = [(1, 10.0), (1, 10.1), (1, 10.2)]
    reads = [read(1, 10.5, "MISS"), read(1, 10.6, "HIT")]

    assert _necessary_misses(reads, writes) == 1


def test_a_write_during_the_previous_fill_makes_the_next_miss_necessary():
    writes = [(1, 10.0), (1, 10.55)]  # the second commits after the first miss began: its fill may be stale
    reads = [read(1, 10.5, "MISS"), read(1, 10.7, "MISS")]

    assert _necessary_misses(reads, writes) == 2


def test_a_miss_of_a_key_nobody_wrote_is_extra_and_keys_are_independent():
    writes = [(2, 10.0)]
    reads = [read(1, 10.5, "MISS"), read(2, 10.5, "MISS")]

    assert _necessary_misses(reads, writes) == 1
