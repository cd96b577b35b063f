"""IaC rules: one module per provider/topic, listed explicitly in `registry.py`."""
