"""The throwaway PostgreSQL cluster other tests rely on: it starts, serves, isolates databases."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.postgres


def test_each_test_gets_its_own_empty_database_on_a_private_port(postgres_cluster, postgres_url):
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x int)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
        assert conn.execute(text("SHOW port")).scalar_one() == str(postgres_cluster.port)
    engine.dispose()
    other = create_engine(postgres_cluster.create_database())
    with other.connect() as conn:
        tables = conn.execute(text("SELECT count(*) FROM pg_tables WHERE tablename = 't'"))
        assert tables.scalar_one() == 0
    other.dispose()
