"""The "ours" column of the peers correctness matrix (bench/peers/matrix.py, issue 13) as a test: after each of
the 12 kinds of write, the recipe detail and the meal plan read through our cache equal the database.

Real PostgreSQL, Redis and a Celery worker (in a thread); the bench runs the same rows against django-cacheops,
django-cachalot and delete_pattern in their own processes (`python -m bench peers`)."""

import pytest

from bench.peers import approaches, matrix

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

KNOWN_DEFECTS = {
    11: "issue 12 item 4: a read-through fill inside a transaction that has written stores uncommitted rows, "
    "which a rollback leaves cached",
}


def _param(row):
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_DEFECTS[row.number])] if row.number in KNOWN_DEFECTS else []
    return pytest.param(row, id=f"{row.number:02d}-{row.name.split(' (')[0].replace(' ', '-')}", marks=marks)


@pytest.mark.parametrize("row", [_param(r) for r in matrix.ROWS])
def test_ours_reads_the_database_after_the_write(row, worker_thread, real_cache):
    outcome = matrix.run_row(approaches.Ours(), row)

    assert outcome.got == outcome.expected, f"{row.name}: cached {outcome.got}, database {outcome.expected}"


def test_the_matrix_has_the_twelve_rows_of_issue_13():
    assert [r.number for r in matrix.ROWS] == list(range(1, 13))
