"""The runtime catalog file: the demo loads, round-trips through its stored form, and bad
entries are refused with file, line and field."""

from __future__ import annotations

import pytest

from berth.catalog import load_catalog_file, load_catalog_text
from berth.domain.catalog import (
    HttpSource,
    ModelFormat,
    S3Source,
    Stage,
    check_stage,
    from_json,
    safe_relative,
    to_json,
)
from berth.yamlfile import FileError

SHA = "a" * 64

GOOD = f"""
engines:
  - name: vllm
    image: docker.io/vllm/vllm-openai:v0.26.0
    digest: sha256:{"b" * 64}
    port: 8000
    formats: [huggingface]
    command: [vllm, serve, "{{model_dir}}"]
models:
  - id: tiny
    format: huggingface
    files:
      - {{path: config.json, size: 10, sha256: {SHA}}}
      - {{path: sub/model.safetensors, size: 20, sha256: {SHA}}}
    sources:
      - url: https://example.org/tiny/
      - s3: {{endpoint: "http://minio:9000", bucket: models, prefix: tiny/}}
"""


def test_demo_catalog_loads_and_round_trips() -> None:
    catalog = load_catalog_file()
    assert {e.name for e in catalog.engines} == {"vllm", "ollama", "tgi", "triton"}
    assert {m.format for m in catalog.models} == set(ModelFormat)
    assert from_json(to_json(catalog)) == catalog


def test_a_catalog_with_both_kinds_of_source() -> None:
    catalog = load_catalog_text(GOOD)
    model = catalog.model("tiny")
    assert model is not None
    assert model.size == 30
    assert model.directory == "/cache/models/tiny"
    assert model.sources == (
        HttpSource("https://example.org/tiny"),
        S3Source("http://minio:9000", "models", "tiny/"),
    )
    vllm = catalog.engine("vllm")
    assert vllm is not None
    assert vllm.reference == f"docker.io/vllm/vllm-openai@sha256:{'b' * 64}"
    assert from_json(to_json(catalog)) == catalog


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("size: 10", "size: -1", "13: models.0.files.0.size"),
        (
            f"sha256: {SHA}}}\n      - {{path: sub",
            "sha256: xyz}\n      - {path: sub",
            "13: models.0.files.0.sha256",
        ),
        ("path: config.json", "path: ../etc/passwd", "13: models.0.files.0.path"),
        ("port: 8000", "port: 0", "6: engines.0.port"),
        ("formats: [huggingface]", "formats: [gguf]", "7: engines.0.formats.0"),
        ("- url: https://example.org/tiny/", "- url: ftp://x", "16: models.0.sources.0.url"),
        ("digest: sha256:", "digest: md5:", "5: engines.0.digest"),
    ],
)
def test_bad_entries_name_line_and_field(old: str, new: str, where: str) -> None:
    assert old in GOOD
    with pytest.raises(FileError) as exc:
        load_catalog_text(GOOD.replace(old, new, 1), "cat.yaml")
    assert f"cat.yaml:{where}" in str(exc.value)


def test_cross_entry_problems() -> None:
    with pytest.raises(FileError, match="no engine serves the format 'ollama'"):
        load_catalog_text(GOOD.replace("format: huggingface", "format: ollama"))
    doubled = GOOD.replace("sub/model.safetensors", "config.json")
    with pytest.raises(FileError, match=r"file 'config\.json' is listed twice"):
        load_catalog_text(doubled)
    nested = GOOD.replace("sub/model.safetensors", "config.json/x")
    with pytest.raises(FileError, match="both a file and a directory"):
        load_catalog_text(nested)


def test_stage_names_are_checked_against_the_catalog() -> None:
    catalog = load_catalog_text(GOOD)
    assert check_stage(catalog, Stage(("vllm",), ("tiny",))) == []
    assert check_stage(catalog, Stage(("tgi",), ("huge",))) == [
        "unknown engine 'tgi'",
        "unknown model 'huge'",
    ]


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("a", True),
        ("a/b.bin", True),
        ("/a", False),
        ("a/../b", False),
        ("a//b", False),
        ("./a", False),
        ("a\\b", False),
        ("", False),
        ("a/", False),
    ],
)
def test_safe_relative(path: str, ok: bool) -> None:
    assert safe_relative(path) is ok
