// The pools and their bookable kinds, loaded once per page.
import { api } from "../api/client";
import type { GpuKind, Pool } from "../api/types";
import { parseBytes } from "./quantity";
import { useLoad, type Loaded } from "./useLoad";

export function usePools(): Loaded<Pool[]> {
  return useLoad(() => api.pools(), []);
}

/** CPU cores and memory bytes a request gets when it names none (defaults are per unit). */
export function defaultsFor(kind: GpuKind, count: number): { cpu: number; memoryBytes: number } {
  return { cpu: kind.default_cpu * count, memoryBytes: parseBytes(kind.default_memory) * count };
}
