// Every API call the UI makes, typed with the generated OpenAPI shapes.
import { request } from "./http";
import type {
  Approval,
  AuditEntry,
  Availability,
  CalendarEntry,
  CalendarFeed,
  CalendarFeedCreated,
  BreakevenReport,
  CacheNode,
  Catalog,
  CostReport,
  CurveReport,
  Health,
  NotificationList,
  NotificationPreferences,
  NotificationPreferencesUpdate,
  PlatformStatus,
  Policy,
  Pool,
  Reservation,
  ReservationCreate,
  Scenario,
  SessionStatus,
  SignInOptions,
  Status,
  Team,
  TeamBudgetSet,
  TokenomicsRequest,
  UsageReport,
  User,
  UserCreate,
  UserUpdate,
  Utilization,
  UtilizationBasis,
  WaitlistAccepted,
  WaitlistEntry,
  Workspace,
} from "./types";

const V1 = "/api/v1";

export interface UsageQuery {
  from: string;
  to: string;
  group_by: string;
  tz: string;
}

/** The CSV download of the same ledger (a link, so the browser saves it). */
export function usageCsvUrl(q: UsageQuery, rows: "groups" | "sessions" = "groups"): string {
  return `${V1}/usage.csv?${new URLSearchParams({ ...q, rows }).toString()}`;
}

export const api = {
  me: () => request<User>("GET", `${V1}/me`),
  /** Who is signed in: 200 either way (`signed_in: false` for a visitor), never a 401. */
  session: () => request<SessionStatus>("GET", `${V1}/auth/session`),
  login: (username: string, password: string) =>
    request<{ user: User }>("POST", `${V1}/auth/login`, { body: { username, password } }),
  logout: () => request<void>("POST", `${V1}/auth/logout`),
  /** The password form (unless switched off) and the identity providers' buttons. */
  signInOptions: () => request<SignInOptions>("GET", `${V1}/auth/providers`),

  policy: () => request<Policy>("GET", `${V1}/policy`),
  pools: () => request<Pool[]>("GET", `${V1}/pools`),
  availability: (pool: string, start: string, end: string) =>
    request<Availability>("GET", `${V1}/pools/${encodeURIComponent(pool)}/availability`, {
      query: { start, end },
    }),
  calendar: (from: string, to: string, pool?: string) =>
    request<CalendarEntry[]>("GET", `${V1}/calendar`, { query: { from, to, pool } }),

  reservations: (
    q: { mine?: boolean; status?: Status[]; pool?: string; from?: string; to?: string; limit?: number } = {},
  ) => request<Reservation[]>("GET", `${V1}/reservations`, { query: q }),
  book: (body: ReservationCreate) => request<Reservation>("POST", `${V1}/reservations`, { body }),
  /** The workspace's state; its password only when the person asks (`includePassword`). */
  workspace: (id: string, opts: { includePassword?: boolean } = {}) =>
    request<Workspace>("GET", `${V1}/reservations/${id}/workspace`, {
      query: { include_password: opts.includePassword || undefined },
    }),
  cancel: (id: string, reason?: string) =>
    request<Reservation>("POST", `${V1}/reservations/${id}/cancel`, {
      body: reason ? { reason } : {},
    }),
  extend: (id: string, end: string) =>
    request<Reservation>("POST", `${V1}/reservations/${id}/extend`, { body: { end } }),
  /** "I'm done": end an ACTIVE session now (COMPLETED, reason `released`). */
  release: (id: string) => request<Reservation>("POST", `${V1}/reservations/${id}/release`),
  /** The fair waitlist (docs/teams.md): a refused request waits; offers are answered here. */
  waitlist: () => request<WaitlistEntry[]>("GET", `${V1}/waitlist`, { query: { mine: true } }),
  joinWaitlist: (body: ReservationCreate) => request<WaitlistEntry>("POST", `${V1}/waitlist`, { body }),
  withdrawWaitlist: (id: number) => request<void>("DELETE", `${V1}/waitlist/${id}`),
  acceptOffer: (id: number) => request<WaitlistAccepted>("POST", `${V1}/waitlist/${id}/accept`),
  declineOffer: (id: number) => request<WaitlistEntry>("POST", `${V1}/waitlist/${id}/decline`),
  calendarFeed: () => request<CalendarFeed>("GET", `${V1}/me/calendar-feed`),
  /** A new private feed URL, shown once; an earlier one stops working. */
  createCalendarFeed: () => request<CalendarFeedCreated>("POST", `${V1}/me/calendar-feed`),
  revokeCalendarFeed: () => request<void>("DELETE", `${V1}/me/calendar-feed`),
  /** The approval requests the caller may decide (a team lead's, or every one for an admin). */
  approvals: () => request<Approval[]>("GET", `${V1}/approvals`),
  approve: (id: string) => request<Reservation>("POST", `${V1}/reservations/${id}/approve`),
  reject: (id: string, reason: string) =>
    request<Reservation>("POST", `${V1}/reservations/${id}/reject`, { body: { reason } }),
  reservation: (id: string) => request<Reservation>("GET", `${V1}/reservations/${id}`),
  /** Acknowledge an idle warning: the session is kept for a while (idle reclaim). */
  keep: (id: string) => request<Reservation>("POST", `${V1}/reservations/${id}/keep`),
  notifications: () => request<NotificationList>("GET", `${V1}/me/notifications`),
  markNotificationRead: (id: number) => request<NotificationList>("POST", `${V1}/me/notifications/${id}/read`),
  markAllNotificationsRead: () => request<NotificationList>("POST", `${V1}/me/notifications/read-all`),
  notificationPreferences: () => request<NotificationPreferences>("GET", `${V1}/me/notification-preferences`),
  saveNotificationPreferences: (body: NotificationPreferencesUpdate) =>
    request<NotificationPreferences>("PUT", `${V1}/me/notification-preferences`, { body }),

  users: () => request<User[]>("GET", `${V1}/users`),
  createUser: (body: UserCreate) => request<User>("POST", `${V1}/users`, { body }),
  updateUser: (username: string, body: UserUpdate) =>
    request<User>("PATCH", `${V1}/users/${encodeURIComponent(username)}`, { body }),
  audit: (q: { actor?: string; action?: string; before_id?: number; limit?: number } = {}) =>
    request<AuditEntry[]>("GET", `${V1}/audit`, { query: q }),

  scenario: (name: string) => request<Scenario>("GET", `${V1}/tokenomics/scenarios/${encodeURIComponent(name)}`),
  tokenomicsCost: (body: TokenomicsRequest) => request<CostReport>("POST", `${V1}/tokenomics/cost`, { body }),
  tokenomicsCurve: (body: TokenomicsRequest) => request<CurveReport>("POST", `${V1}/tokenomics/curve`, { body }),
  tokenomicsBreakeven: (body: TokenomicsRequest) =>
    request<BreakevenReport>("POST", `${V1}/tokenomics/breakeven`, { body }),
  utilization: (pool: string, from: string, to: string, basis: UtilizationBasis = "booked") =>
    request<Utilization>("GET", `${V1}/tokenomics/utilization`, { query: { pool, from, to, basis } }),
  /** The cost ledger; users get their own reservations, admins everyone's. */
  teams: () => request<Team[]>("GET", `${V1}/teams`),
  createTeam: (name: string, group?: string) =>
    request<Team>("POST", `${V1}/teams`, { body: { name, group: group || null } }),
  setTeamMember: (team: string, username: string, lead: boolean) =>
    request<void>("PUT", `${V1}/teams/${encodeURIComponent(team)}/members/${encodeURIComponent(username)}`, {
      body: { lead },
    }),
  setTeamBudget: (team: string, pool: string, kind: string, body: TeamBudgetSet) =>
    request<void>(
      "PUT",
      `${V1}/teams/${encodeURIComponent(team)}/budgets/${encodeURIComponent(pool)}/${encodeURIComponent(kind)}`,
      { body },
    ),
  usage: (q: UsageQuery & { top?: number }) => request<UsageReport>("GET", `${V1}/usage`, { query: { ...q } }),

  catalog: () => request<Catalog>("GET", `${V1}/catalog`),
  cacheNodes: () => request<CacheNode[]>("GET", `${V1}/cache/nodes`),

  status: () => request<PlatformStatus>("GET", `${V1}/status`),
  readyz: () => request<Health>("GET", "/readyz", { okStatuses: [503] }),
};
