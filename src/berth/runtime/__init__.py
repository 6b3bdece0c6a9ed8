"""The runtime plane inside a session: `berth-serve` (model servers from the node's cache) and
`berth-policy` (who-may-reach-whom among agents). Runs with the namespace's own permissions;
talks to Kubernetes through `berth.kube`'s adapter only (docs/runtime.md)."""
