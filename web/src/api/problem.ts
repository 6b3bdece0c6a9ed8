// Errors from the API arrive as application/problem+json; this keeps their structure.

export interface Shortage {
  resource: string;
  start: string;
  end: string;
  free: number;
  asked: number;
}

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  status: number;
  title?: string;
  detail: string;
  shortage?: Shortage;
  suggestion?: { start: string; end: string };
  /** A refused booking: the same request may join the waitlist (POST /waitlist). */
  waitlist?: boolean;
  errors?: FieldError[];
  /** Over the team's budget: which budget and what is left (docs/teams.md). */
  budget?: { team: string; budget: string; limit: number; used: number; asked: number; left: number };
  /** true: the same booking with `ask: true` becomes an approval request instead. */
  ask?: boolean;
}

export class ApiError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail);
    this.name = "ApiError";
    this.problem = problem;
  }

  get status(): number {
    return this.problem.status;
  }
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.problem.detail;
  if (err instanceof Error) return err.message;
  return String(err);
}
