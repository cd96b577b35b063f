"""The ledger's HTTP service: FastAPI app factory, auth, one router per resource.

Routes hold no SQL: they call `clearance.ledger.store` / `ingest` / `service`.
"""
