// The Tokenomics page's pure parts: which scenario fields the form edits, how typed text becomes
// the request body, where the API's 422 errors belong, number formats, and the chart's data.
import type { CurveReport, Scenario, TokenomicsRequest } from "../api/types";
import { DAY_MS, toUtcIso } from "./time";

/** The built-in scenarios (`GET /tokenomics/scenarios/{name}`). */
export const SCENARIOS = [
  { name: "c845a", label: "Reference C845A (one server)" },
  { name: "fleet", label: "Typical fleet (8 + 1 servers)" },
] as const;

export interface FieldSpec {
  path: string; // inside the scenario, dotted: "costs.pue", "workload.classes.0.share"
  label: string;
  help?: string;
}

/** The request's own utilization (it overrides the scenario's); not a path in the scenario. */
export const UTILIZATION = "utilization";

export const GROUPS: { legend: string; fields: FieldSpec[] }[] = [
  {
    legend: "Hardware",
    fields: [
      { path: "fleet.servers", label: "Servers", help: "serving; spares come on top" },
      { path: "server.gpu_price", label: "GPU price ($ per GPU)" },
      { path: "server.platform_price", label: "Server price without GPUs ($)" },
      { path: "server.idle_watts", label: "Power at idle (W per server)" },
      { path: "server.load_watts", label: "Power at full load (W per server)" },
    ],
  },
  {
    legend: "Finance",
    fields: [
      { path: "costs.life_years", label: "Life (years)" },
      { path: "costs.cost_of_capital", label: "Cost of capital (per year, 0–1)" },
      { path: "costs.maintenance_rate", label: "Maintenance (share of capital per year, 0–1)" },
      { path: "costs.software_per_gpu", label: "Software licence ($ per GPU per year)" },
    ],
  },
  {
    legend: "Running costs",
    fields: [
      { path: "costs.electricity_price", label: "Electricity price ($/kWh)" },
      { path: "costs.pue", label: "PUE", help: "facility power ÷ IT power, 1 to 3" },
      { path: "costs.facility_per_server", label: "Facility ($ per server per year)" },
      { path: "costs.staff_fte", label: "Staff (FTE)" },
      { path: "costs.staff_cost_per_fte", label: "Staff cost ($ per FTE per year)" },
    ],
  },
];

/** The workload class columns the form edits, per class. */
export const CLASS_FIELDS = [
  { key: "share", label: "Share of requests" },
  { key: "output_tokens_per_s", label: "Output tokens/s per replica" },
  { key: "input_tokens", label: "Input tokens per request" },
  { key: "output_tokens", label: "Output tokens per request" },
] as const;

export const OTHER_FIELDS: FieldSpec[] = [
  { path: "workload.output_input_cost_ratio", label: "Output:input cost ratio" },
  { path: "practical_ceiling", label: "Practical ceiling (0–1)", help: "break-even above it counts as never" },
];

/** Text typed into the form, by path; a path not here keeps the scenario's value. */
export type Edits = Record<string, string>;

type Json = Record<string, unknown> | unknown[];

export function getPath(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (o == null ? undefined : (o as Record<string, unknown>)[k]), obj);
}

function setPath(obj: Json, path: string, value: unknown): void {
  const keys = path.split(".");
  let o = obj as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys[keys.length - 1]!] = value;
}

/** What a field shows: the typed text, else the scenario's figure (or the utilization's). */
export function valueOf(scenario: Scenario, edits: Edits, path: string): string {
  if (path in edits) return edits[path]!;
  const v = path === UTILIZATION ? scenario.utilization : getPath(scenario, path);
  return v == null ? "" : String(v);
}

export interface Built {
  body: TokenomicsRequest | null;
  problems: Record<string, string>; // path -> what the browser itself can tell (not a number)
}

/** The request body: the scenario with the edits applied; the utilization sent on its own, so a
 *  bad one comes back from the API as an error on `utilization`. */
export function buildRequest(scenario: Scenario, edits: Edits): Built {
  const copy = structuredClone(scenario) as Scenario;
  const problems: Record<string, string> = {};
  let utilization = scenario.utilization;
  for (const [path, text] of Object.entries(edits)) {
    const n = text.trim() === "" ? NaN : Number(text);
    if (!Number.isFinite(n)) {
      problems[path] = "Enter a number.";
      continue;
    }
    if (path === UTILIZATION) utilization = n;
    else setPath(copy as unknown as Json, path, n);
  }
  if (Object.keys(problems).length > 0) return { body: null, problems };
  return { body: { scenario: copy, utilization }, problems };
}

/** The API names a field as the request body's path: "scenario.costs.pue", "utilization". */
export function formPath(apiField: string): string {
  return apiField.replace(/^scenario\./, "");
}

/** "utilization: Input should be ..." -> "Input should be ...": the field is shown beside it. */
export function bareMessage(message: string): string {
  return message.replace(/^[\w.]+: /, "");
}

export function fieldErrors(errors: { field: string; message: string }[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of errors ?? []) {
    const path = formPath(e.field);
    out[path] = out[path] ? `${out[path]}; ${bareMessage(e.message)}` : bareMessage(e.message);
  }
  return out;
}

/** A label for an API field path, for the list of problems beside the form. */
export function labelOf(path: string, classNames: string[]): string {
  if (path === UTILIZATION) return "Utilization";
  const spec = [...GROUPS.flatMap((g) => g.fields), ...OTHER_FIELDS].find((f) => f.path === path);
  if (spec) return spec.label;
  const m = /^workload\.classes\.(\d+)\.(\w+)$/.exec(path);
  if (m) {
    const col = CLASS_FIELDS.find((c) => c.key === m[2]);
    return `${classNames[Number(m[1])] ?? `class ${m[1]}`}: ${col?.label ?? m[2]}`;
  }
  if (path === "workload.classes") return "Workload classes";
  return path && path !== "scenario" ? path : "Scenario";
}

// ---- numbers -------------------------------------------------------------------------------

const whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** Dollars a year: $26,306. */
export function usd(n: number): string {
  return `${n < 0 ? "−" : ""}$${whole.format(Math.abs(n))}`;
}

/** $/Mtok: two decimals from $1 up, else three significant digits ($0.107, $0.0412). */
export function perMtok(n: number): string {
  if (n >= 1) return `$${n.toFixed(2)}`;
  return `$${Number(n.toPrecision(3))}`;
}

export function pct(u: number, digits = 1): string {
  return `${(u * 100).toFixed(digits)}%`;
}

/** Tokens: 245.8B. */
export function count(n: number): string {
  return compact.format(n);
}

// ---- chart ---------------------------------------------------------------------------------

export interface Series {
  key: string; // s0, s1, ...: class names may hold dots, which chart keys read as paths
  name: string;
}

export interface ChartData {
  rows: Record<string, number>[];
  series: Series[];
  domain: [number, number];
  ticks: number[];
}

/** Rows of {u, s0, s1, ...} for the chart, the y domain in whole decades and 1-2-5 ticks. */
export function chartData(curve: CurveReport): ChartData {
  const series = Object.keys(curve.curves).map((name, i) => ({ key: `s${i}`, name }));
  const rows = curve.utilizations.map((u, i) => {
    const row: Record<string, number> = { u };
    series.forEach((s) => (row[s.key] = curve.curves[s.name]![i]!));
    return row;
  });
  const values = [...Object.values(curve.curves).flat(), ...curve.apis.map((a) => a.api_price_per_mtok)].filter(
    (v) => v > 0 && Number.isFinite(v),
  );
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  return { rows, series, domain: [lo, hi], ticks: logTicks(lo, hi) };
}

/** 1, 2, 5 times each power of ten within [lo, hi]. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = Number((m * 10 ** e).toPrecision(1));
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) out.push(t);
    }
  }
  return out;
}

/** The window "Use measured utilization" asks about: the 30 days up to now. */
export function last30Days(now: Date): { from: string; to: string } {
  return { from: toUtcIso(new Date(now.getTime() - 30 * DAY_MS)), to: toUtcIso(now) };
}

/** A measured utilization as the form's text (three significant digits); null when nothing was
 *  booked, since the model needs a utilization above 0. */
export function measuredText(u: number): string | null {
  if (!(u > 0)) return null;
  return String(Number(u.toPrecision(3)));
}

/** The id of a field's input, from its path: "costs.pue" -> "tk-costs-pue". */
export function fieldId(path: string): string {
  return `tk-${path.replace(/\./g, "-")}`;
}

/** The cost components as the breakdown names them, with what each one is. */
export const COMPONENTS: Record<string, string> = {
  capital: "Capital (amortized, with cost of capital)",
  maintenance: "Maintenance",
  software: "Software licences",
  power: "Power (IT load)",
  cooling: "Cooling (PUE − 1)",
  facility: "Facility",
  staff: "Staff",
};
