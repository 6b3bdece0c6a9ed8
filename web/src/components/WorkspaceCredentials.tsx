// The workspace password, fetched only when the person asks for it, with a copy button.
import { useState } from "react";
import { api } from "../api/client";
import { ErrorNote } from "./ErrorNote";

export function WorkspaceCredentials({ reservationId }: { reservationId: string }) {
  const [password, setPassword] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [copied, setCopied] = useState(false);

  const show = async () => {
    setError(null);
    try {
      const ws = await api.workspace(reservationId, { includePassword: true });
      setPassword(ws.password ?? null);
      if (!ws.password) setError(new Error("the workspace has no password yet"));
    } catch (err) {
      setError(err);
    }
  };

  const copy = async () => {
    if (!password) return;
    try {
      await navigator.clipboard.writeText(password);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };

  if (password === null) {
    return (
      <>
        <button type="button" onClick={() => void show()}>
          Show password
        </button>
        <ErrorNote error={error} />
      </>
    );
  }
  return (
    <span className="credentials">
      Password: <code>{password}</code>{" "}
      <button type="button" onClick={() => void copy()}>
        {copied ? "Copied" : "Copy"}
      </button>
    </span>
  );
}
