"""Data quality for the Shunde hub.

Pure domain rules (`rules`, `dates`, `geo`, `meters`), stated repairs (`normalise`) and the county and
town codes they need (`divisions`). Every value rule works row-wise on one value and vectorised on a
pyarrow array / pandas Series (`*_mask`), and the two agree; GX suites and quarantine build on them.
"""
