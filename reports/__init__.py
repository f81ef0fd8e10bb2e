"""Built-in reports plugins (installed as iqabench.reports)."""
