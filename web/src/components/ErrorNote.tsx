// An error from a load or an action, shown in words and announced to screen readers.
import { messageOf } from "../api/problem";

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {messageOf(error)}
    </p>
  );
}
