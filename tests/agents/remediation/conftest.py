"""The store suite's backend fixtures (SQLite file, PostgreSQL schema), reused for the remediation flow."""

from tests.store.conftest import fresh_pg_url, pg_database, store, store_url

__all__ = ["fresh_pg_url", "pg_database", "store", "store_url"]
