import type { Status } from "../api/types";

const LABEL: Record<Status, string> = {
  PENDING: "Pending",
  APPROVED: "Approved",
  ACTIVE: "Active",
  COMPLETED: "Completed",
  CANCELED: "Canceled",
  FAILED: "Failed",
  REJECTED: "Rejected",
  EXPIRED: "Expired",
};

export function StatusBadge({ status }: { status: Status }) {
  return <span className={`badge badge-${status.toLowerCase()}`}>{LABEL[status]}</span>;
}
