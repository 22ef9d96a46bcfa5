"""`gmrl report`: one self-contained HTML page about one or more finished run directories.

The page holds learning curves (every `metrics.csv` column against `step`, several runs overlaid),
summary and config comparison tables, the run's own figures and audio players for music runs.
Everything is inlined (base64 PNG and WAV data URIs, inline CSS, no script), so the file opens
offline from disk and can be mailed or archived as it is.

```python
from gmrl.report.builder import write_report
write_report(["runs/generative-20261201-113615"], "report.html")
```
The package imports nothing at load time, so `gmrl --help` does not pay for matplotlib.
"""

DEFAULT_TITLE = "gmrl report"
