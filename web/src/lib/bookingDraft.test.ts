import { describe, expect, it } from "vitest";
import type { Pool } from "../api/types";
import { initialDraft, resolve } from "./bookingDraft";
import { toLocalInput } from "./time";

const pool: Pool = {
  name: "c845a",
  cluster: "default",
  cpu: 127,
  memory: "754Gi",
  memory_bytes: 754 * 2 ** 30,
  nodes: [],
  kinds: [
    {
      name: "mig-1g.24gb",
      units: 4,
      replicas: 2,
      resource: "nvidia.com/mig-1g.24gb",
      model: "RTX PRO 6000 Blackwell",
      memory: "24Gi",
      default_cpu: 16,
      default_memory: "96Gi",
    },
    {
      name: "gpu",
      units: 1,
      replicas: 4,
      resource: "nvidia.com/gpu",
      model: "RTX PRO 6000 Blackwell",
      memory: "96Gi",
      default_cpu: 32,
      default_memory: "192Gi",
    },
  ],
};

const start = new Date("2030-01-07T09:00:00Z");
const end = new Date("2030-01-07T11:00:00Z");

describe("initialDraft", () => {
  it("takes pool, kind, count and window from the query", () => {
    const q = new URLSearchParams({ kind: "gpu", count: "1", start: start.toISOString(), end: end.toISOString() });
    const d = initialDraft([pool], q, new Date("2030-01-07T08:00:00Z"));
    expect(d).toMatchObject({ pool: "c845a", kind: "gpu", count: 1, mode: "interactive", cpu: null });
    expect(d.start).toBe(toLocalInput(start));
    expect(d.end).toBe(toLocalInput(end));
  });

  it("defaults to the next grid time and two hours", () => {
    const d = initialDraft([pool], new URLSearchParams(), new Date("2030-01-07T08:05:00Z"));
    expect(d.kind).toBe("mig-1g.24gb");
    expect(d.start).toBe(toLocalInput(new Date("2030-01-07T08:15:00Z")));
    expect(d.end).toBe(toLocalInput(new Date("2030-01-07T10:15:00Z")));
  });

  it("uses the server's grid when it is not 15 minutes", () => {
    const d = initialDraft([pool], new URLSearchParams(), new Date("2030-01-07T08:05:00Z"), 30 * 60_000);
    expect(d.start).toBe(toLocalInput(new Date("2030-01-07T08:30:00Z")));
  });
});

describe("resolve", () => {
  const draft = initialDraft([pool], new URLSearchParams(), start);

  it("fills per-unit defaults times the count and sends UTC with Z", () => {
    const r = resolve({ ...draft, count: 2, start: toLocalInput(start), end: toLocalInput(end) }, [pool]);
    expect(r.problems).toEqual([]);
    expect(r.body).toEqual({
      pool: "c845a",
      start: "2030-01-07T09:00:00Z",
      end: "2030-01-07T11:00:00Z",
      gpu: { kind: "mig-1g.24gb", count: 2 },
      mode: "interactive",
      cpu: 32,
      memory: "192Gi",
    });
  });

  it("sends a stage only when something is chosen", () => {
    expect(resolve(draft, [pool]).body).not.toHaveProperty("stage");
    const r = resolve({ ...draft, engines: ["vllm"], models: ["demo-hf-tiny"] }, [pool]);
    expect(r.body?.stage).toEqual({ engines: ["vllm"], models: ["demo-hf-tiny"] });
    const q = initialDraft([pool], new URLSearchParams("model=demo-hf-tiny&engine=vllm"), start);
    expect([q.engines, q.models]).toEqual([["vllm"], ["demo-hf-tiny"]]);
  });

  it("keeps what the person typed", () => {
    const r = resolve({ ...draft, cpu: "4", memoryGiB: "16" }, [pool]);
    expect(r.body).toMatchObject({ cpu: 4, memory: "16Gi" });
  });

  it("explains what the browser can already see is wrong, and sends nothing", () => {
    const r = resolve({ ...draft, count: 5, cpu: "0", start: toLocalInput(end), end: toLocalInput(start) }, [pool]);
    expect(r.problems).toEqual([
      "Count must be between 1 and 4.",
      "CPU must be more than 0.",
      "The end must be after the start.",
    ]);
    expect(r.body).toBeNull();
  });
});
