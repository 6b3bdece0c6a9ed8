"""The images of an air-gapped install: an oc-mirror v2 ImageSetConfiguration, or a plain list.

The list itself is data (`images.yaml` beside this module, read with file:line errors); this
module only selects from it (MIG manager only when the pool has MIG slices, PostgreSQL only when
the install runs one) and prints it. A reference is `repository@sha256:...` where the data has a
digest (skopeo and oc-mirror refuse a tag and a digest together) and `repository:tag` otherwise;
the output says which entries are pinned by tag only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from berth.domain.pool import Pool
from berth.install.gpu_operator import dump
from berth.yamlfile import load_model_text

IMAGES_FILE = "images.yaml"
DEFAULT_OPENSHIFT = "4.18"  # the catalogs' tag; GPU Operator v26.3 supports 4.14 to 4.22
Condition = Literal["always", "mig", "postgres"]


class OperatorEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    package: str
    catalog: str  # without tag: the OpenShift version is added when rendering
    channel: str
    min_version: str | None = None
    source: str


class ImageEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    image: str = Field(pattern=r"^(\{[a-z_]+\}|[^@\s]+:[^@/\s]+)$")  # repository:tag
    digest: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
    when: Condition
    operator: str | None = None
    source: str


class ImagesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operators: list[OperatorEntry]
    images: list[ImageEntry]

    @model_validator(mode="after")
    def _operators_known(self) -> ImagesFile:
        packages = {o.package for o in self.operators}
        for image in self.images:
            if image.operator is not None and image.operator not in packages:
                raise ValueError(f"image {image.name!r}: unknown operator {image.operator!r}")
        return self


def load_images(text: str | None = None) -> ImagesFile:
    """The image list shipped with Berth (or `text`, for tests)."""
    if text is None:
        text = resources.files("berth.install").joinpath(IMAGES_FILE).read_text("utf-8")
    return load_model_text(ImagesFile, text, IMAGES_FILE)


@dataclass(frozen=True)
class Image:
    """One image to mirror, resolved."""

    name: str
    ref: str  # what skopeo and oc-mirror copy
    tag: str  # the pinned tag (also shown for a digest reference)
    pinned_by_digest: bool
    operator: str | None
    source: str

    @property
    def comment(self) -> str:
        pin = f"tag {self.tag}" if self.pinned_by_digest else "pinned by tag only: no known digest"
        return f"{self.name} ({pin}); {self.source}"


def _split(image: str) -> tuple[str, str]:
    repository, _, tag = image.rpartition(":")
    return repository, tag


def select(
    data: ImagesFile,
    pools: Iterable[Pool],
    *,
    berth_image: str,
    workspace_image: str,
    postgres: bool,
) -> list[Image]:
    """The images this install needs, in the file's order."""
    wanted: set[Condition] = {"always"}
    if any(g.mig is not None for p in pools for n in p.nodes for g in n.gpus):
        wanted.add("mig")
    if postgres:
        wanted.add("postgres")
    fill = {"berth_image": berth_image, "workspace_image": workspace_image}
    out: list[Image] = []
    for entry in data.images:
        if entry.when not in wanted:
            continue
        image = entry.image.format(**fill)
        if "@" in image:  # a digest reference given on the command line
            ref, tag, digest = image, image.rpartition("@")[0].rpartition("/")[2], True
        else:
            repository, tag = _split(image)
            ref = f"{repository}@{entry.digest}" if entry.digest else image
            digest = entry.digest is not None
        out.append(
            Image(
                name=entry.name,
                ref=ref,
                tag=tag,
                pinned_by_digest=digest,
                operator=entry.operator,
                source=" ".join(entry.source.split()),
            )
        )
    return out


def image_set_configuration(
    data: ImagesFile, images: list[Image], *, openshift: str = DEFAULT_OPENSHIFT
) -> str:
    """oc-mirror v2: the operators from their catalogs (oc-mirror copies the images of their
    bundles), every other image as an additional image."""
    operators = [
        {
            "catalog": f"{o.catalog}:v{openshift.removeprefix('v')}",
            "packages": [
                {
                    "name": o.package,
                    "channels": [
                        {"name": o.channel}
                        | ({"minVersion": o.min_version} if o.min_version else {})
                    ],
                }
            ],
        }
        for o in data.operators
    ]
    extra = [i for i in images if i.operator is None]
    config = {
        "apiVersion": "mirror.openshift.io/v2alpha1",
        "kind": "ImageSetConfiguration",
        "mirror": {"operators": operators, "additionalImages": [{"name": i.ref} for i in extra]},
    }
    comments = {f"- name: {i.ref}": i.comment for i in extra}
    lines = []
    for line in dump(config).splitlines():
        note = comments.get(line.strip())
        lines.append(f"{line}  # {note}" if note else line)
    bundled = [i for i in images if i.operator is not None]
    head = [
        "# Images for an air-gapped Berth install (berth render mirror).",
        "# oc-mirror --config this.yaml --workspace file://<dir> docker://<mirror registry> --v2",
        "# oc-mirror copies the operators' images with their bundles; on other distributions",
        "# (Helm) mirror these too (they are in --format list):",
        *(f"#   {i.ref}  # {i.comment}" for i in bundled),
    ]
    return "\n".join([*head, *lines]) + "\n"


def image_list(images: list[Image]) -> str:
    """One reference per line for skopeo, each after a comment saying what it is."""
    lines = ["# Images for an air-gapped Berth install (berth render mirror --format list)."]
    lines.append("# grep -v '^#' | while read -r i; do skopeo copy --all docker://$i ...; done")
    for image in images:
        lines += [f"# {image.comment}", image.ref]
    return "\n".join(lines) + "\n"
