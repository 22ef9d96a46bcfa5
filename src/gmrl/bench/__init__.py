"""`gmrl bench all`: every benchmark script, quick or full, in one job with one report.

`registry` says what each benchmark is and how to run it in each mode, `runner` runs the
scripts as subprocesses (one failure does not stop the others), `report` writes
`bench_all.json` / `bench_all.md` and a timing plot, and `docs` rewrites the generated region of
docs/BENCHMARKS.md. Nothing here imports a benchmark script: they stay plain scripts.
"""
