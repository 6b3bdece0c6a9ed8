"""The Cluster port and its adapter: the only place that talks to the Kubernetes API."""
