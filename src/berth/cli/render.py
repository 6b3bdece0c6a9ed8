"""`berth render`: print the cluster objects an installation applies, from the same builders
`berth sim up` uses, so the install manifests and every test run share one source."""

from __future__ import annotations

from typing import Annotated

import typer
import yaml

from berth.config import Settings
from berth.kube.admission import admission_objects, default_reconciler, reconciler_scope_objects

# `gpu-operator` and `mirror` (from the pool file) are registered on this app in cli/__init__.py
app = typer.Typer(
    help="Print install-time configuration and cluster objects as YAML (for install "
    "manifests): admission policies, GPU Operator config from the pool file, image lists.",
    no_args_is_help=True,
)


@app.command()
def admission(
    reconciler: Annotated[
        list[str] | None,
        typer.Option(
            help="User name of the reconciler, the only one who may write Berth's objects in "
            "a session namespace (repeat for several) "
            "[default: system:serviceaccount:<BERTH_PLATFORM_NAMESPACE>:berth-reconciler]",
        ),
    ] = None,
) -> None:
    """The ValidatingAdmissionPolicies and their bindings that guard session namespaces (the
    artifact cache's StorageClass from BERTH_CACHE_STORAGE_CLASS)."""
    settings = Settings()
    users = reconciler or [default_reconciler(settings.platform_namespace)]
    objects = admission_objects(users, settings.cache_storage_class)
    typer.echo(yaml.safe_dump_all(objects, sort_keys=False, width=1000), nl=False)


@app.command("reconciler-scope")
def reconciler_scope(
    reconciler: Annotated[
        list[str] | None,
        typer.Option(
            help="User name of the reconciler whose writes are kept to session namespaces "
            "(repeat for several) "
            "[default: system:serviceaccount:<BERTH_PLATFORM_NAMESPACE>:berth-reconciler]",
        ),
    ] = None,
) -> None:
    """The ValidatingAdmissionPolicies that keep the installed reconciler's writes to session
    namespaces (its ClusterRole cannot say so), and its DaemonSets to its pre-pull DaemonSets
    in the platform namespace (BERTH_PLATFORM_NAMESPACE)."""
    platform = Settings().platform_namespace
    users = reconciler or [default_reconciler(platform)]
    objects = reconciler_scope_objects(users, platform)
    typer.echo(yaml.safe_dump_all(objects, sort_keys=False, width=1000), nl=False)
