// A control with its label beside it (not around it), so a select's name is only its label.
import type { ReactNode } from "react";

export function Field({ id, label, children }: { id: string; label: string; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
    </div>
  );
}
