import type { Status } from "../api/types";

const LABEL: Record<Status, string> = {
  APPROVED: "Approved",
  ACTIVE: "Active",
  COMPLETED: "Completed",
  CANCELED: "Canceled",
  FAILED: "Failed",
};

export function StatusBadge({ status }: { status: Status }) {
  return <span className={`badge badge-${status.toLowerCase()}`}>{LABEL[status]}</span>;
}
