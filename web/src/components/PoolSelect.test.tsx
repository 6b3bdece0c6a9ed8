import { describe, expect, it } from "vitest";
import type { Pool } from "../api/types";
import { clustersShown, poolLabel } from "./PoolSelect";

const pool = (name: string, cluster: string): Pool => ({
  name,
  cluster,
  kinds: [],
  cpu: 8,
  memory: "64Gi",
  memory_bytes: 64 * 2 ** 30,
  nodes: [],
});

describe("pool choices", () => {
  it("name no cluster when every pool is on the default one", () => {
    const first = pool("a", "default");
    const pools = [first, pool("b", "default")];
    expect(clustersShown(pools)).toBe(false);
    expect(poolLabel(first, clustersShown(pools))).toBe("a");
  });
  it("name each pool's cluster when there are several", () => {
    const pools = [pool("a", "default"), pool("b", "east")];
    expect(clustersShown(pools)).toBe(true);
    expect(pools.map((p) => poolLabel(p, true))).toEqual(["a (cluster default)", "b (cluster east)"]);
  });
  it("name a single cluster that is not the default", () => {
    expect(clustersShown([pool("a", "east")])).toBe(true);
  });
});
