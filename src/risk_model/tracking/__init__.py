"""MLflow at the edge: what a run records, the manifest that reproduces it, its model card and
figures, and loading runs and models back. No other package imports mlflow."""
