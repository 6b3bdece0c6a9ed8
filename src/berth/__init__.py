"""Berth: book GPU capacity on a calendar; get an isolated Kubernetes workspace for the window."""

__version__ = "0.1.0"
