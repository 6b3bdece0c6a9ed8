"""The control plane: converges Kubernetes to what the database says."""
