// Top navigation: the pages, who is signed in, and signing out.
import type { User } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { PAGES } from "../routes";
import { Link } from "./Link";
import { NotificationBell } from "./NotificationBell";

export function Nav({ user, path }: { user: User; path: string }) {
  const { signOut } = useAuth();
  const pages = PAGES.filter((p) => !p.admin || user.role === "admin");
  return (
    <header className="topbar">
      <span className="brand" aria-hidden="true">
        ⚓ Berth
      </span>
      <nav aria-label="Main">
        <ul>
          {pages.map((p) => (
            <li key={p.path}>
              <Link href={p.path} aria-current={path === p.path ? "page" : undefined}>
                {p.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="who">
        <NotificationBell />
        <span>
          {user.username}
          {user.role === "admin" ? " (admin)" : ""}
        </span>
        <button type="button" className="link-button" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
    </header>
  );
}
