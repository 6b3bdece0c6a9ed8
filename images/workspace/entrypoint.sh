#!/bin/sh
# The workspace container's command: JupyterLab on loopback behind code-server's own proxy
# (https://<workspace>/absproxy/8888/lab, the same password), then code-server in the
# foreground with the Deployment's arguments (--bind-addr 0.0.0.0:8080 --auth password
# /home/coder; src/berth/kube/manifests/workspace.py). tini is PID 1: it forwards SIGTERM and
# reaps the kernels' children.
set -eu
mkdir -p "${HOME:-/home/coder}" 2>/dev/null || true
jupyter lab --no-browser --ip=127.0.0.1 --port=8888 \
  --ServerApp.base_url=/absproxy/8888/ \
  --IdentityProvider.token= --ServerApp.password= \
  --ServerApp.root_dir="${HOME:-/home/coder}" \
  >/tmp/jupyterlab.log 2>&1 &
exec code-server "$@"
