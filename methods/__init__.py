"""Built-in methods plugins (installed as iqabench.methods)."""
