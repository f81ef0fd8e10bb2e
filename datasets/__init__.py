"""Built-in datasets plugins (installed as iqabench.datasets)."""
