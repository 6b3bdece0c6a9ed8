"""A local Kubernetes control plane (etcd, apiserver, controller-manager, scheduler, kwok)."""
