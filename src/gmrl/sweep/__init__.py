"""`gmrl sweep`: many runs of one recipe config (a grid of overrides × seeds) on Ray Tune.

Every trial is a normal gmrl run directory under `<sweep_dir>/trials/<point>-seed<k>/`; the
results are gathered into one table (mean ± std and n per grid point) and a plot. Modules:

- `grid`: `key=v1,v2` options into grid points (typed by `gmrl run`'s override parser);
- `spec`: the sweep's spec (`sweep.yaml`), its directory and lock, every trial's config;
- `trial`: one trial (plain Python, resumable) and the Ray trainable around it;
- `runner`: Ray and Ray Tune (imported lazily: the rest of gmrl works without them);
- `gather`: the results table (`results.csv`, `results.json`, `results.md`) and its plot;
- `cli`: the `gmrl sweep` command.
"""
