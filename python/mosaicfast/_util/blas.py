"""One BLAS thread for the command line's processes, set before NumPy loads.

Imported first by :mod:`mosaicfast.cli`, so it runs before anything imports NumPy, whose
OpenBLAS starts a thread per core at import and lets them spin: about 0.13 s of CPU a
process (``import mosaicfast.library.indexer``: 0.30 -> 0.17 s of CPU, 2 cores), paid
by every build's start-up and by each worker process of an index, which competes for
the same cores as the workers reading photos. The command line's BLAS calls are small
(the pHash's 32 x 32 products, the candidate search's scatter matrix: 190,000 x 75 in
22 ms against 19 ms on two threads), and the heavy loops run on the core's own threads.
A value the user set is kept; the API (``import mosaicfast``) leaves NumPy alone.
"""

from __future__ import annotations

import os

__all__ = ["VARIABLE"]

#: The environment variable OpenBLAS reads once, at load.
VARIABLE = "OPENBLAS_NUM_THREADS"

os.environ.setdefault(VARIABLE, "1")
