"""The throwaway PostgreSQL cluster as pytest fixtures (``testkit.pgcluster`` starts it).

Use it from any test module (the fixtures are registered in ``tests/conftest.py``)::

    pytestmark = pytest.mark.postgres

    def test_something(postgres_url):       # a fresh, empty database per test
        engine = create_engine(postgres_url)

``postgres_cluster`` (session scope) gives the cluster itself, ``postgres_url`` a SQLAlchemy URL
(psycopg 3) to a new database of its own; the cluster is stopped at session end.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.pgcluster import PgCluster, free_port, start_cluster, stop_cluster

__all__ = ["PgCluster", "free_port", "postgres_cluster", "postgres_url"]


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PgCluster]:
    root = Path(tempfile.mkdtemp(prefix="cabine-pg-"))
    cluster = start_cluster(root)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_cluster: PgCluster) -> str:
    """A SQLAlchemy URL to a fresh, empty database in the session's throwaway cluster."""
    return postgres_cluster.create_database()
