"""Built-in protocols plugins (installed as iqabench.protocols)."""
