"""mosaicfast past one machine: indexing and batch builds on a Dask cluster.

``index_library(..., cluster=...)`` (:mod:`.index`) and :func:`build_many`
(:mod:`.batch`) run the same per-file and per-target work as a local run on the
workers of a ``dask.distributed`` cluster; the client stays the library's single
writer. See docs/distributed.md for the data flow and how to run a cluster.

Dask and distributed are imported only when a cluster is used
(``pip install 'mosaicfast[distributed]'``): importing this package does not.
"""

from .batch import BatchResult, build_many
from .index import read_on_cluster
from .session import ClusterSpec, connect

__all__ = ["BatchResult", "ClusterSpec", "build_many", "connect", "read_on_cluster"]
