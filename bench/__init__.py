"""The benchmark suite of issue 5: `python -m bench [scenario ...] [--quick] [--out DIR]` (see __main__.py)."""
