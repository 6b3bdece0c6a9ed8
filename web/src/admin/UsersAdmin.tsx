// Users: add, disable or enable, change role.
import { useState } from "react";
import { api } from "../api/client";
import type { Role, User, UserUpdate } from "../api/types";
import { useUser } from "../auth/AuthContext";
import { DataTable, type Column } from "../components/DataTable";
import { ErrorNote } from "../components/ErrorNote";
import { fmtDateTime } from "../lib/time";
import { useLoad } from "../lib/useLoad";
import { AddUserForm } from "./AddUserForm";

// Where an account comes from: a Berth password (break-glass) or the identity provider.
const SIGNS_IN_WITH = { local: "password", oidc: "single sign-on", openshift: "OpenShift" } as const;

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

  const columns: Column<User>[] = [
    { header: "Username", cell: (u) => u.username },
    { header: "Signs in with", cell: (u) => SIGNS_IN_WITH[u.provider ?? "local"] },
    {
      header: "Role",
      cell: (u) => (
        <select
          aria-label={`Role of ${u.username}`}
          value={u.role}
          disabled={u.username === me.username}
          onChange={(e) => void patch(u, { role: e.target.value as Role })}
        >
          <option value="user">user</option>
          <option value="admin">admin</option>
        </select>
      ),
    },
    { header: "State", cell: (u) => (u.disabled ? <span className="badge badge-canceled">Disabled</span> : "Enabled") },
    { header: "Created", cell: (u) => (u.created_at ? fmtDateTime(u.created_at) : "") },
    {
      header: "Actions",
      srOnlyHeader: true,
      cell: (u) =>
        u.username !== me.username && (
          <button type="button" onClick={() => void patch(u, { disabled: !u.disabled })}>
            {u.disabled ? `Enable ${u.username}` : `Disable ${u.username}`}
          </button>
        ),
    },
  ];

  return (
    <section aria-labelledby="adm-users-title">
      <h2 id="adm-users-title">Users</h2>
      <AddUserForm onAdded={list.reload} />
      <ErrorNote error={error ?? list.error} />
      <DataTable caption="Users" columns={columns} rows={list.data ?? []} rowKey={(u) => u.username} />
    </section>
  );
}
