"""The catalog file (YAML) → `berth.domain.catalog.Catalog`, with `file:line: field: message`
errors like the pool file's. The format is documented in docs/runtime.md; the demo catalog is
`berth/pools/catalog.yaml`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from berth.domain import catalog as dom
from berth.yamlfile import FileError, load_model_lines, read_text

_Strict = ConfigDict(extra="forbid")
_Id = Annotated[str, Field(pattern=dom.ID.pattern)]


class EngineFile(BaseModel):
    model_config = _Strict
    name: _Id
    image: str = Field(pattern=r"^[a-z0-9][a-z0-9./_:-]*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
    digest: str | None = Field(default=None, pattern=dom.DIGEST.pattern)
    source: str = ""  # where the tag and digest come from
    port: int = Field(ge=1, le=65535)
    formats: list[dom.ModelFormat] = Field(min_length=1)
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    openai_path: str | None = Field(default=None, pattern=r"^/")
    ready_path: str = Field(default="/health", pattern=r"^/")


class FileEntry(BaseModel):
    model_config = _Strict
    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=dom.SHA256.pattern)

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str) -> str:
        if not dom.safe_relative(v):
            raise ValueError("must be a relative path inside the model's tree (no '..', no '/')")
        return v


class S3Entry(BaseModel):
    model_config = _Strict
    endpoint: str = Field(pattern=r"^https?://")
    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = ""


class SourceEntry(BaseModel):
    model_config = _Strict
    url: str | None = Field(default=None, pattern=r"^https?://")
    s3: S3Entry | None = None

    @model_validator(mode="after")
    def _one(self) -> SourceEntry:
        if (self.url is None) == (self.s3 is None):
            raise ValueError("a source is either `url` or `s3`")
        return self


class ModelEntry(BaseModel):
    model_config = _Strict
    id: _Id
    format: dom.ModelFormat
    description: str = ""
    files: list[FileEntry] = Field(min_length=1)
    sources: list[SourceEntry] = Field(min_length=1)


class CatalogFile(BaseModel):
    model_config = _Strict
    engines: list[EngineFile] = Field(default_factory=list)
    models: list[ModelEntry] = Field(default_factory=list)


def _source(s: SourceEntry) -> dom.Source:
    if s.s3 is not None:
        return dom.S3Source(s.s3.endpoint.rstrip("/"), s.s3.bucket, s.s3.prefix)
    assert s.url is not None
    return dom.HttpSource(s.url.rstrip("/"))


def _to_domain(f: CatalogFile) -> dom.Catalog:
    return dom.Catalog(
        engines=tuple(
            dom.Engine(
                name=e.name,
                image=e.image,
                digest=e.digest,
                port=e.port,
                formats=tuple(e.formats),
                command=tuple(e.command),
                env=tuple(sorted(e.env.items())),
                openai_path=e.openai_path,
                ready_path=e.ready_path,
            )
            for e in f.engines
        ),
        models=tuple(
            dom.Model(
                id=m.id,
                format=m.format,
                files=tuple(dom.ModelFile(x.path, x.size, x.sha256) for x in m.files),
                sources=tuple(_source(s) for s in m.sources),
                description=m.description,
            )
            for m in f.models
        ),
    )


def load_catalog_text(text: str, path: str = "<string>") -> dom.Catalog:
    """A catalog from YAML text; FileError naming file, line and field."""
    parsed, _lines = load_model_lines(CatalogFile, text, path)
    catalog = _to_domain(parsed)
    problems = dom.check(catalog)
    if problems:
        raise FileError(path, [f"0: {p}" for p in problems])
    return catalog


def load_catalog_file(path: Path | None = None) -> dom.Catalog:
    """The catalog at `path`, or the demo catalog."""
    if path is None:
        text = resources.files("berth").joinpath("pools/catalog.yaml").read_text(encoding="utf-8")
        return load_catalog_text(text, "catalog.yaml")
    return load_catalog_text(read_text(path), str(path))
