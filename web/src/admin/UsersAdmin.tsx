// Users: add, disable or enable, change role.
import { useState } from "react";
import { api } from "../api/client";
import type { Role, User, UserUpdate } from "../api/types";
import { useUser } from "../auth/AuthContext";
import { ErrorNote } from "../components/ErrorNote";
import { fmtDateTime } from "../lib/time";
import { useLoad } from "../lib/useLoad";
import { AddUserForm } from "./AddUserForm";

export function UsersAdmin() {
  const me = useUser();
  const list = useLoad(() => api.users(), []);
  const [error, setError] = useState<unknown>(null);

  const patch = async (u: User, body: UserUpdate) => {
    setError(null);
    try {
      await api.updateUser(u.username, body);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section aria-labelledby="adm-users-title">
      <h2 id="adm-users-title">Users</h2>
      <AddUserForm onAdded={list.reload} />
      <ErrorNote error={error ?? list.error} />
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Users</caption>
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(list.data ?? []).map((u) => (
              <tr key={u.username}>
                <td>{u.username}</td>
                <td>
                  <select
                    aria-label={`Role of ${u.username}`}
                    value={u.role}
                    disabled={u.username === me.username}
                    onChange={(e) => void patch(u, { role: e.target.value as Role })}
                  >
                    <option value="user">user</option>
                    <option value="admin">admin</option>
                  </select>
                </td>
                <td>{u.disabled ? <span className="badge badge-canceled">Disabled</span> : "Enabled"}</td>
                <td>{u.created_at ? fmtDateTime(u.created_at) : ""}</td>
                <td>
                  {u.username !== me.username && (
                    <button type="button" onClick={() => void patch(u, { disabled: !u.disabled })}>
                      {u.disabled ? `Enable ${u.username}` : `Disable ${u.username}`}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
