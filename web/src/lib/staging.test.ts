import { describe, expect, it } from "vitest";
import type { CacheArtifact, Staging } from "../api/types";
import { artifactDone, formatBytes, stagingView, toggle } from "./staging";

const base: Staging = {
  state: "waiting",
  percent: 0,
  bytes_done: 0,
  bytes_total: 100,
  expected_start: null,
  reason: null,
  detail: null,
  node: null,
  model: null,
  models: [],
};

describe("formatBytes", () => {
  it("uses binary units with one decimal", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(101713920)).toBe("97.0 MiB");
    expect(formatBytes(10 * 2 ** 30)).toBe("10.0 GiB");
  });
});

describe("stagingView", () => {
  it("has nothing to say without staging", () => {
    expect(stagingView(null)).toBeNull();
    expect(stagingView(undefined)).toBeNull();
  });
  it("shows a bar only while bytes move", () => {
    expect(stagingView({ ...base, state: "staging", percent: 63 })).toEqual({
      label: "staging 63%",
      percent: 63,
      tone: "busy",
      note: null,
    });
    expect(stagingView({ ...base, state: "staged", percent: 100 })?.percent).toBeNull();
    expect(stagingView({ ...base, state: "staged", percent: 100 })?.label).toBe("staged");
  });
  it("names a failure's reason, then the model, node and detail", () => {
    const v = stagingView({
      ...base,
      state: "failed",
      reason: "integrity-mismatch",
      detail: "model.safetensors: sha256",
      node: "n1",
      model: "m",
    });
    expect(v?.label).toBe("failed: integrity-mismatch");
    expect(v?.note).toBe("m on n1 — model.safetensors: sha256");
    expect(v?.tone).toBe("danger");
  });
  it("says when a wait should end, if it is known", () => {
    expect(stagingView(base)?.note).toBeNull();
    const v = stagingView({ ...base, expected_start: "2030-01-07T08:40:00Z" });
    expect(v?.label).toBe("waiting");
    expect(v?.note).toMatch(/^downloads expected to begin by /);
  });
});

describe("toggle", () => {
  const order = ["vllm", "ollama", "tgi"];
  it("keeps the catalog's order and each name once", () => {
    expect(toggle([], "tgi", true, order)).toEqual(["tgi"]);
    expect(toggle(["tgi"], "vllm", true, order)).toEqual(["vllm", "tgi"]);
    expect(toggle(["vllm", "tgi"], "vllm", true, order)).toEqual(["vllm", "tgi"]);
    expect(toggle(["vllm", "tgi"], "vllm", false, order)).toEqual(["tgi"]);
  });
});

describe("artifactDone", () => {
  const a = { size_bytes: 100, downloaded_bytes: 40 } as CacheArtifact;
  it("counts a ready artifact whole", () => {
    expect(artifactDone({ ...a, state: "downloading" })).toBe(40);
    expect(artifactDone({ ...a, state: "ready" })).toBe(100);
  });
});
