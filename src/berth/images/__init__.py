"""Build Berth's container images (`berth image build`, `make images`) without a registry.

No image registry is reachable from the machines this project is built on, so the base image is
made here: `debootstrap` writes a Debian bookworm root file system (minbase plus Python), buildah
imports it, and the Containerfiles in `images/` build on it (`--isolation chroot`, the `vfs`
storage driver: no daemon, no overlay mounts). Everything lives under `~/.cache/berth/images`
(or $BERTH_IMAGE_CACHE): the root file system tarball, the wheels and buildah's storage. Each
step is keyed on a hash of its inputs, so an unchanged input is a cache hit (docs/install.md).
A development tool like `berth.sim`: nothing at run time imports it.
"""
