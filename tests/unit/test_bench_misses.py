"""The ideal of the misses scenario (bench/misses.py): which observed misses an ideal cache would also have had."""

from bench.misses import _necessary_misses, _necessary_misses_by_start


def read(rid, start, x, title=None):
    return (f"/api/recipes/{rid}/", start, start + 0.001, x, title)


# --- by content: one miss per version of a key computed --------------------------------------------------------


def test_the_first_miss_computing_a_new_version_is_necessary_a_second_one_is_extra():
    reads = [read(1, 9.0, "HIT"), read(1, 10.5, "MISS", "v1"), read(1, 10.6, "MISS", "v1"), read(1, 11.0, "HIT")]

    assert _necessary_misses(reads, {1: "v0"}) == 1


def test_a_miss_computing_the_warm_version_again_is_extra():
    assert _necessary_misses([read(1, 10.5, "MISS", "v0")], {1: "v0"}) == 0


def test_each_version_computed_needs_its_miss_and_keys_are_independent():
    reads = [read(1, 10.5, "MISS", "v1"), read(2, 10.5, "MISS", "v0"), read(1, 10.7, "MISS", "v2")]
    reads.append(read(2, 10.8, "MISS", "w1"))

    assert _necessary_misses(reads, {1: "v0", 2: "v0"}) == 3


def test_a_miss_in_flight_across_a_commit_is_necessary_whatever_the_clocks_say():
    """The request left the client before the write committed (10.55) but computed the written version."""
    reads = [read(1, 10.5, "MISS", "v1")]

    assert _necessary_misses(reads, {1: "v0"}) == 1
    assert _necessary_misses_by_start(reads, [(1, 10.55)]) == 0  # the clocks' rule called it extra


# --- by the requests' start times (earlier runs' rule) --------------------------------------------------------


def test_by_start_one_miss_per_write_is_necessary_and_a_second_is_extra():
    writes = [(1, 10.0)]
    reads = [read(1, 9.0, "HIT"), read(1, 10.5, "MISS"), read(1, 10.6, "MISS"), read(1, 11.0, "HIT")]

    assert _necessary_misses_by_start(reads, writes) == 1


def test_by_start_several_writes_before_the_next_read_need_one_miss():
    writes = [(1, 10.0), (1, 10.1), (1, 10.2)]
    reads = [read(1, 10.5, "MISS"), read(1, 10.6, "HIT")]

    assert _necessary_misses_by_start(reads, writes) == 1


def test_by_start_a_write_during_the_previous_fill_makes_the_next_miss_necessary():
    writes = [(1, 10.0), (1, 10.55)]  # the second commits after the first miss began: its fill may be stale
    reads = [read(1, 10.5, "MISS"), read(1, 10.7, "MISS")]

    assert _necessary_misses_by_start(reads, writes) == 2


def test_by_start_a_miss_of_a_key_nobody_wrote_is_extra_and_keys_are_independent():
    writes = [(2, 10.0)]
    reads = [read(1, 10.5, "MISS"), read(2, 10.5, "MISS")]

    assert _necessary_misses_by_start(reads, writes) == 1
