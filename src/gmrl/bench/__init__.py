"""Benchmarks: one harness for grids of cells, `gmrl bench all`, and the generated docs.

- The harness (`grid`, `cell`, `harness`, `summary`): a benchmark declares tasks x agents x
  seeds x budget (each cell runs through the public agent API), or variants x seeds and one
  function (each cell one call of it: a model fit, a recipe run); cells run serially or on Ray,
  recorded and resumable (see `gmrl.bench.harness` for the API).
- `gmrl bench all`: `registry` says what each benchmark is and how to run it in each mode,
  `runner` runs the scripts as subprocesses (one failure does not stop the others), `report`
  writes `bench_all.json` / `bench_all.md` and a timing plot, and `docs` rewrites the generated
  region of docs/benchmarks/quick.md. Nothing here imports a benchmark script (the harness
  imports a function grid's function by the path the script itself gives, inside its cells).
- `headline`: docs/BENCHMARKS.md's headline table, generated from the results JSON it cites.
"""
