// One fetch wrapper: same-origin cookie session, JSON in and out, problems as ApiError.
import { ApiError, type Problem } from "./problem";

let onUnauthorized: (() => void) | null = null;

/** Called when a request is refused as unauthenticated (the session expired or was revoked). */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

type Query = Record<string, string | number | boolean | string[] | undefined | null>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
    else params.append(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function request<T>(
  method: string,
  path: string,
  options: { body?: unknown; query?: Query; okStatuses?: number[] } = {},
): Promise<T> {
  const res = await fetch(withQuery(path, options.query), {
    method,
    credentials: "same-origin",
    headers: options.body === undefined ? undefined : { "Content-Type": "application/json" },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text };
    }
  }
  if (!res.ok && !(options.okStatuses ?? []).includes(res.status)) {
    const body = (data ?? {}) as Partial<Problem>;
    if (res.status === 401 && !path.endsWith("/auth/login")) onUnauthorized?.();
    throw new ApiError({ ...body, status: res.status, detail: body.detail ?? res.statusText });
  }
  return data as T;
}
