// Names for the generated OpenAPI shapes (src/api/schema.d.ts, `npm run gen:api`).
import type { components } from "./schema";

type S = components["schemas"];

export type Reservation = S["ReservationPublic"];
// `ask` has a default (false): a body may leave it out
export type ReservationCreate = Omit<S["ReservationCreate"], "ask"> & { ask?: boolean };
export type CalendarEntry = S["CalendarEntry"];
export type CalendarFeed = S["CalendarFeedPublic"];
export type CalendarFeedCreated = S["CalendarFeedCreated"];
export type Pool = S["PoolPublic"];
export type GpuKind = S["GpuKindPublic"];
export type Availability = S["Availability"];
export type Step = S["Step"];
export type User = S["UserPublic"];
export type SessionStatus = S["SessionStatus"];
export type SignInOptions = S["SignInOptions"];
export type UserCreate = S["UserCreate"];
export type UserUpdate = S["UserUpdate"];
export type AuditEntry = S["AuditPublic"];
export type Health = S["Health"];
export type Workspace = S["WorkspacePublic"];
export type PlatformStatus = S["PlatformStatus"];
export type ComponentStatus = S["ComponentStatus"];
export type ClusterStatus = S["ClusterStatus"];
export type ControlPlaneStatus = S["ControlPlaneStatus"];
export type Status = S["Status"];
export type Policy = S["Policy"];
export type Scenario = S["Scenario"];
export type ModelClassSpec = S["ModelClassSpec"];
export type TokenomicsRequest = S["TokenomicsRequest"];
export type Utilization = S["Utilization"];
export type Mode = S["Mode"];
export type Catalog = S["CatalogPublic"];
export type CatalogModel = S["ModelPublic"];
export type CatalogEngine = S["EnginePublic"];
export type Stage = S["StagePublic"];
export type Staging = S["StagingPublic"];
export type CacheNode = S["CacheNodePublic"];
export type CacheArtifact = S["CacheArtifactPublic"];
export type UsageReport = S["UsageReport"];
export type UsageRow = S["UsageRow"];
export type UsageFigures = S["UsageFigures"];
export type UsageSession = S["UsageSession"];
export type UtilizationBasis = Utilization["basis"];
export type Role = User["role"];
export type Notification = S["NotificationPublic"];
export type NotificationList = S["NotificationList"];
export type NotificationKind = S["NotificationPublic"]["kind"];
export type NotificationAction = S["NotificationPublic"]["actions"][number];
export type NotificationChannel = "email" | "webhook";
export type Team = S["TeamPublic"];
export type TeamBudget = S["TeamBudgetPublic"];
export type TeamBudgetSet = S["TeamBudgetSet"];
export type NotificationPreferences = S["NotificationPreferencesPublic"];
export type NotificationPreferencesUpdate = S["NotificationPreferencesUpdate"];
export type WaitlistEntry = S["WaitlistEntryPublic"];
export type WaitlistAccepted = S["WaitlistAccepted"];
export type WaitlistState = S["WaitlistState"];

export type Approval = S["ApprovalPublic"];

export const STATUSES: Status[] = [
  "PENDING",
  "APPROVED",
  "ACTIVE",
  "COMPLETED",
  "CANCELED",
  "FAILED",
  "REJECTED",
  "EXPIRED",
];

// The tokenomics reports are plain dicts in the API (berth/tokenomics_report.py, one shape for
// the CLI, the API and this UI), so OpenAPI has no schema for them; these mirror that module.

export interface Prices {
  cost_per_mtok: number;
  input_price_per_mtok: number;
  output_price_per_mtok: number;
}

export interface ClassCost extends Prices {
  name: string;
  tokens_per_year: number;
  gpu_time_share: number;
  annual_cost: number;
}

/** Annual cost by component, in dollars; the keys in the order the API lists them. */
export type Breakdown = Record<string, number>;

export interface CostFields extends Prices {
  utilization: number;
  annual_cost: number;
  breakdown: Breakdown;
  capital_expenditure: number;
  servers: number;
  spare_servers: number;
  serving_gpus: number;
  tokens_per_year: number;
  input_tokens_per_year: number;
  output_tokens_per_year: number;
  classes: ClassCost[];
}

export interface CostReport extends CostFields {
  scenario: string;
  unit_cost_80_vs_40: number;
  sensitivity: { utilization: number; annual_cost: number; tokens_per_year: number; cost_per_mtok: number }[];
}

export interface BreakEven {
  api: string;
  model_class: string | null;
  api_price_per_mtok: number;
  breakeven_utilization: number | null;
  required_utilization: number | null;
  verdict: string;
}

export interface BreakevenReport extends CostFields, BreakEven {
  scenario: string;
  practical_ceiling: number;
  apis: BreakEven[];
}

export interface CurveReport {
  scenario: string;
  utilization: number;
  practical_ceiling: number;
  utilizations: number[];
  curves: Record<string, number[]>;
  apis: BreakEven[];
}
