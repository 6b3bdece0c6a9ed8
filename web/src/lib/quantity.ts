// Memory quantities as the API writes them ("96Gi", "128Gi", bytes).

const UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

export const GIB = 2 ** 30;

export function parseBytes(q: string): number {
  const m = /^\s*([0-9.]+)\s*([kMGT]i?|Ki)?\s*$/.exec(q);
  if (!m) return Number.NaN;
  return Number(m[1]) * (UNITS[m[2] ?? ""] ?? Number.NaN);
}

export function fmtGiB(bytes: number): string {
  const gib = bytes / GIB;
  return `${Number.isInteger(gib) ? gib : gib.toFixed(1)} GiB`;
}

export function fmtCores(cores: number): string {
  return `${Number.isInteger(cores) ? cores : cores.toFixed(1)} CPU`;
}

/** A resource amount as a person reads it: GPU units, cores, or GiB. */
export function fmtAmount(resource: string, amount: number): string {
  if (resource === "cpu") return fmtCores(amount);
  if (resource === "memory_bytes" || resource === "memory") return `${fmtGiB(amount)} memory`;
  return `${amount} × ${resource}`;
}

export function resourceLabel(resource: string): string {
  if (resource === "cpu") return "CPU cores";
  if (resource === "memory_bytes") return "Memory";
  return resource;
}
