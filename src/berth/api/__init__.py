"""The portal API (scheduling plane): validates, persists, returns; never calls Kubernetes."""
