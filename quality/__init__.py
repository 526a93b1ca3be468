"""Data quality for the Shunde hub.

Pure domain rules (`rules`, `dates`, `geo`, `meters`), stated repairs (`normalise`) and the county and
town codes they need (`divisions`). Every value rule works row-wise on one value and vectorised on a
pyarrow array / pandas Series (`*_mask`), and the two agree; GX suites and quarantine build on them.
"""

import logging

# Great Expectations logs its own bookkeeping at INFO while it is imported ("Skipping registering
# function DataSourceManager…", hundreds of lines per task log): only its warnings reach our logs.
# Set here, before any module of this package imports GX.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
