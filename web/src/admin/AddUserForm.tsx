// Add a user with a first password and a role.
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { Role } from "../api/types";
import { ErrorNote } from "../components/ErrorNote";
import { SelectField, type Choice } from "../components/SelectField";

const ROLES: Choice<Role>[] = [
  { value: "user", label: "user" },
  { value: "admin", label: "admin" },
];

export function AddUserForm({ onAdded }: { onAdded: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("user");
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState("");

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setDone("");
    try {
      const u = await api.createUser({ username, password, role });
      setDone(`Added ${u.username}.`);
      setUsername("");
      setPassword("");
      onAdded();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <form className="inline-form card" onSubmit={submit} aria-labelledby="add-user-title">
      <h3 id="add-user-title">Add a user</h3>
      <label htmlFor="new-username">
        Username
        <input
          id="new-username"
          required
          minLength={2}
          maxLength={32}
          autoComplete="off"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
      </label>
      <label htmlFor="new-password">
        Password
        <input
          id="new-password"
          type="password"
          required
          minLength={12}
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </label>
      <SelectField id="new-role" label="Role" value={role} choices={ROLES} onChange={setRole} />
      <button type="submit" className="primary">
        Add user
      </button>
      <ErrorNote error={error} />
      {done && <p role="status">{done}</p>}
    </form>
  );
}
