// Sign in: with the organisation's identity provider (a button per configured provider, which
// navigates to it), and with a username and password unless the portal switched those off.
import { useEffect, useState, type FormEvent } from "react";
import { api } from "../api/client";
import { messageOf } from "../api/problem";
import type { SignInOptions } from "../api/types";
import { useAuth } from "../auth/AuthContext";

/** Where the provider sends the browser back to: the page asked for, as a path of this portal. */
function providerHref(url: string): string {
  const here = window.location.pathname + window.location.search;
  return here === "/" ? url : `${url}?next=${encodeURIComponent(here)}`;
}

export function SignInPage() {
  const { signIn } = useAuth();
  const [options, setOptions] = useState<SignInOptions | null>(null);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.signInOptions().then(setOptions, (err: unknown) => {
      console.warn("could not read the sign-in options", err);
      setOptions({ password: true, providers: [] }); // the password form, as before
    });
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username, password);
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };

  const providers = options?.providers ?? [];
  const passwordForm = options?.password ?? false;
  return (
    <main className="signin" id="main">
      <section className="signin-panel" aria-labelledby="signin-title">
        <h1 id="signin-title">⚓ Berth</h1>
        <p className="muted">Book GPU capacity on a calendar; get an isolated workspace.</p>
        {providers.length > 0 && (
          <ul className="signin-providers" aria-label="Sign in with">
            {providers.map((p) => (
              <li key={p.id}>
                <a className="button primary" href={providerHref(p.url)}>
                  Sign in with {p.name}
                </a>
              </li>
            ))}
          </ul>
        )}
        {providers.length > 0 && passwordForm && (
          <p className="signin-or muted" role="separator">
            or with a Berth password (break-glass)
          </p>
        )}
        {passwordForm && (
          <form onSubmit={submit} aria-label="Sign in with a Berth account">
            <label>
              Username
              <input
                name="username"
                autoComplete="username"
                required
                autoFocus={providers.length === 0}
                value={username}
                onChange={(e) => setUsername(e.target.value)}
              />
            </label>
            <label>
              Password
              <input
                name="password"
                type="password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </label>
            {error && (
              <p className="error" role="alert">
                {error}
              </p>
            )}
            <button type="submit" className={providers.length > 0 ? undefined : "primary"} disabled={busy}>
              Sign in
            </button>
          </form>
        )}
      </section>
    </main>
  );
}
