// Names for the generated OpenAPI shapes (src/api/schema.d.ts, `npm run gen:api`).
import type { components } from "./schema";

type S = components["schemas"];

export type Reservation = S["ReservationPublic"];
export type ReservationCreate = S["ReservationCreate"];
export type CalendarEntry = S["CalendarEntry"];
export type Pool = S["PoolPublic"];
export type GpuKind = S["GpuKindPublic"];
export type Availability = S["Availability"];
export type Step = S["Step"];
export type User = S["UserPublic"];
export type UserCreate = S["UserCreate"];
export type UserUpdate = S["UserUpdate"];
export type AuditEntry = S["AuditPublic"];
export type Health = S["Health"];
export type Workspace = S["WorkspacePublic"];
export type PlatformStatus = S["PlatformStatus"];
export type ComponentStatus = S["ComponentStatus"];
export type Status = S["Status"];
export type Mode = S["Mode"];
export type Role = User["role"];

export const STATUSES: Status[] = ["APPROVED", "ACTIVE", "COMPLETED", "CANCELED", "FAILED"];
