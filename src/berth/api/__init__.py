"""The portal API (scheduling plane). It validates, persists and returns; it never calls Kubernetes."""
