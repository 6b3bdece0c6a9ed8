import { describe, expect, it } from "vitest";
import type { Step } from "../api/types";
import { checkFit, freeSlots, minFree } from "./fit";

const H = 3_600_000;
const T0 = Date.parse("2030-01-07T00:00:00Z");
const at = (h: number) => new Date(T0 + h * H);
const step = (from: number, to: number, mig: number, cpu = 100): Step => ({
  start: at(from).toISOString(),
  end: at(to).toISOString(),
  free: { "mig-1g.24gb": mig, cpu, memory_bytes: 2 ** 40 },
});

// 4 slices free, except 2 free from 02:00 to 04:00 and none from 06:00 to 07:00.
const steps = [step(0, 2, 4), step(2, 4, 2), step(4, 6, 4), step(6, 7, 0), step(7, 24, 4)];

describe("checkFit", () => {
  it("fits when every step inside the window has enough", () => {
    expect(checkFit(steps, { "mig-1g.24gb": 2 }, at(1), at(5))).toBeNull();
  });

  it("names the first short resource, the overlap, and free vs asked", () => {
    expect(checkFit(steps, { "mig-1g.24gb": 3, cpu: 8 }, at(1), at(5))).toEqual({
      resource: "mig-1g.24gb",
      start: at(2),
      end: at(4),
      free: 2,
      asked: 3,
    });
  });

  it("checks CPU and memory like GPUs", () => {
    const short = checkFit([step(0, 24, 4, 6)], { "mig-1g.24gb": 1, cpu: 8 }, at(0), at(1));
    expect(short?.resource).toBe("cpu");
  });

  it("ignores steps that only touch the window", () => {
    expect(checkFit(steps, { "mig-1g.24gb": 4 }, at(4), at(6))).toBeNull();
  });
});

describe("freeSlots", () => {
  it("groups consecutive fitting starts into runs", () => {
    const slots = freeSlots(steps, { "mig-1g.24gb": 3 }, 2 * H, at(0), at(12), H / 4);
    expect(slots).toEqual([
      { start: at(0), latestStart: at(0) },
      { start: at(4), latestStart: at(4) },
      { start: at(7), latestStart: at(10) },
    ]);
  });

  it("starts on the grid after `from` and stops at `max` runs", () => {
    const slots = freeSlots(steps, { "mig-1g.24gb": 3 }, H, new Date(T0 + 10 * 60_000), at(24), H / 4, 1);
    expect(slots).toEqual([{ start: new Date(T0 + 15 * 60_000), latestStart: at(1) }]);
  });

  it("finds nothing when the request never fits", () => {
    expect(freeSlots(steps, { "mig-1g.24gb": 5 }, H, at(0), at(24), H / 4)).toEqual([]);
  });
});

describe("minFree", () => {
  it("is the least free amount of each resource over the span", () => {
    expect(minFree(steps, at(1).getTime(), at(7).getTime())["mig-1g.24gb"]).toBe(0);
    expect(minFree(steps, at(0).getTime(), at(2).getTime())["mig-1g.24gb"]).toBe(4);
  });
});
