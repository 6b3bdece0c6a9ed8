"""The runtime catalog: inference engines and models a node can hold in its cache.

Engines are container images (kept on each pool's nodes by the reconciler's pre-pull
DaemonSet); models are trees of files (downloaded, verified and published by each node's cache
agent under `<cache>/models/<id>/`). A reservation may name what it will use (`Stage`); the agent
stages those before its window opens. See docs/runtime.md.

Pure: the YAML edge is `berth.catalog`; the database copy is `berth.store.catalog`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

CACHE_MOUNT = "/cache"  # where sessions see the node's cache, read-only (kube.manifests)
MODELS_DIR = "models"  # published model trees: <cache>/models/<id>/
ID = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class ModelFormat(StrEnum):
    HUGGINGFACE = "huggingface"  # a Hugging Face directory (config.json, *.safetensors, ...)
    OLLAMA = "ollama"  # an Ollama models directory (blobs/, manifests/)
    TRITON = "triton"  # a Triton model repository (<model>/config.pbtxt, <model>/1/...)


@dataclass(frozen=True)
class Engine:
    """An inference engine: how to serve a model from a local directory, offline.

    `command` and `env` values may hold `{model_dir}` (the model's tree under the cache
    mount), `{model}` (the model id) and `{port}`; `berth-serve` fills them in."""

    name: str
    image: str  # repository:tag
    digest: str | None  # sha256:..., where a published source gives it
    port: int
    formats: tuple[ModelFormat, ...]
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    openai_path: str | None = None  # "/v1" where the engine speaks the OpenAI API
    ready_path: str = "/health"  # HTTP readiness probe path

    @property
    def reference(self) -> str:
        """The image as pulled: by digest where known, else by tag."""
        if self.digest is None:
            return self.image
        repository = (
            self.image.rsplit(":", 1)[0] if ":" in self.image.split("/")[-1] else self.image
        )
        return f"{repository}@{self.digest}"


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative, POSIX, no `..`
    size: int  # bytes
    sha256: str


@dataclass(frozen=True)
class HttpSource:
    """Files at `<url>/<file path>` (HTTP or HTTPS; Range requests used to resume)."""

    url: str


@dataclass(frozen=True)
class S3Source:
    """Files at `<endpoint>/<bucket>/<prefix><file path>` of an S3-compatible store
    (path-style; credentials, if any, from the agent's environment)."""

    endpoint: str
    bucket: str
    prefix: str = ""


Source = HttpSource | S3Source


@dataclass(frozen=True)
class Model:
    id: str
    format: ModelFormat
    files: tuple[ModelFile, ...]
    sources: tuple[Source, ...]
    description: str = ""

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def directory(self) -> str:
        """The published tree as sessions see it."""
        return f"{CACHE_MOUNT}/{MODELS_DIR}/{self.id}"


@dataclass(frozen=True)
class Catalog:
    engines: tuple[Engine, ...] = ()
    models: tuple[Model, ...] = ()

    def engine(self, name: str) -> Engine | None:
        return next((e for e in self.engines if e.name == name), None)

    def model(self, model_id: str) -> Model | None:
        return next((m for m in self.models if m.id == model_id), None)


@dataclass(frozen=True)
class Stage:
    """What a reservation will use, staged on its pool's nodes before its window opens."""

    engines: tuple[str, ...] = ()
    models: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.engines or self.models)


class ArtifactState(StrEnum):
    """A model's state on one node, as its cache agent reports it."""

    ABSENT = "absent"
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    READY = "ready"  # complete, verified, published
    FAILED = "failed"
    EVICTED = "evicted"


class FailureReason(StrEnum):
    INTEGRITY_MISMATCH = "integrity-mismatch"
    SOURCE_UNAVAILABLE = "source-unavailable"
    INSUFFICIENT_CAPACITY = "insufficient-capacity"


def safe_relative(path: str) -> bool:
    """A file path inside a model tree: relative, POSIX, no `..`, no empty parts."""
    if not path or path.startswith("/") or "\\" in path:
        return False
    parts = PurePosixPath(path).parts
    return all(p not in ("", ".", "..") for p in parts) and path == "/".join(parts)


def check(catalog: Catalog) -> list[str]:
    """Cross-entry problems a field validator cannot see (duplicates, a model no engine
    serves, a file listed twice). Empty when the catalog is usable."""
    problems: list[str] = []
    seen: set[str] = set()
    for e in catalog.engines:
        if e.name in seen:
            problems.append(f"engine {e.name!r} is listed twice")
        seen.add(e.name)
    formats = {f for e in catalog.engines for f in e.formats}
    ids: set[str] = set()
    for m in catalog.models:
        if m.id in ids:
            problems.append(f"model {m.id!r} is listed twice")
        ids.add(m.id)
        if m.format not in formats:
            problems.append(f"model {m.id!r}: no engine serves the format {m.format.value!r}")
        paths = [f.path for f in m.files]
        for dup in sorted({p for p in paths if paths.count(p) > 1}):
            problems.append(f"model {m.id!r}: file {dup!r} is listed twice")
        for a in paths:
            if any(b.startswith(a + "/") for b in paths):
                problems.append(f"model {m.id!r}: {a!r} is both a file and a directory")
    return problems


def check_stage(catalog: Catalog, stage: Stage) -> list[str]:
    """Names in a reservation's `stage` that the catalog does not have."""
    problems = [f"unknown engine {n!r}" for n in stage.engines if catalog.engine(n) is None]
    problems += [f"unknown model {m!r}" for m in stage.models if catalog.model(m) is None]
    return problems


def to_json(catalog: Catalog) -> dict[str, Any]:
    """The catalog as stored in the database and served by the API (inverse: `from_json`)."""
    return {
        "engines": [
            {
                "name": e.name,
                "image": e.image,
                "digest": e.digest,
                "port": e.port,
                "formats": [f.value for f in e.formats],
                "command": list(e.command),
                "env": dict(e.env),
                "openai_path": e.openai_path,
                "ready_path": e.ready_path,
            }
            for e in catalog.engines
        ],
        "models": [
            {
                "id": m.id,
                "format": m.format.value,
                "description": m.description,
                "files": [{"path": x.path, "size": x.size, "sha256": x.sha256} for x in m.files],
                "sources": [_source_json(s) for s in m.sources],
            }
            for m in catalog.models
        ],
    }


def _source_json(s: Source) -> dict[str, Any]:
    if isinstance(s, HttpSource):
        return {"url": s.url}
    return {"s3": {"endpoint": s.endpoint, "bucket": s.bucket, "prefix": s.prefix}}


def _source_from(d: dict[str, Any]) -> Source:
    if "s3" in d:
        return S3Source(d["s3"]["endpoint"], d["s3"]["bucket"], d["s3"].get("prefix", ""))
    return HttpSource(d["url"])


def from_json(d: dict[str, Any]) -> Catalog:
    """The catalog from `to_json`'s form (already validated when it was stored)."""
    return Catalog(
        engines=tuple(
            Engine(
                name=e["name"],
                image=e["image"],
                digest=e["digest"],
                port=e["port"],
                formats=tuple(ModelFormat(f) for f in e["formats"]),
                command=tuple(e["command"]),
                env=tuple(sorted(e["env"].items())),
                openai_path=e["openai_path"],
                ready_path=e["ready_path"],
            )
            for e in d.get("engines", [])
        ),
        models=tuple(
            Model(
                id=m["id"],
                format=ModelFormat(m["format"]),
                files=tuple(ModelFile(f["path"], f["size"], f["sha256"]) for f in m["files"]),
                sources=tuple(_source_from(s) for s in m["sources"]),
                description=m.get("description", ""),
            )
            for m in d.get("models", [])
        ),
    )
