"""The ledger: every service, release, finding, owner and exception, in one database.

`db` builds engines (SQLite by default, PostgreSQL for teams), `tables` holds the schema,
`store` every query, `ingest` turns a gate report (and its verified bundle) into rows,
`audit` the tamper-evident Merkle log. Imports only `model`, `decision`, `evidence` and the
advisory store — never scanners' pipeline, the CLI or the server.
"""

DB_ENV = "CLEARANCE_LEDGER_DB"
"""Environment variable naming the ledger database URL (importable without the server extra)."""
