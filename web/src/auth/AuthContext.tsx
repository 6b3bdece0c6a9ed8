// Who is signed in. The session is an httpOnly cookie, so the UI asks the API
// (/auth/session, which answers 200 with signed_in: false for a visitor rather than a 401).
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api } from "../api/client";
import { setUnauthorizedHandler } from "../api/http";
import { ApiError } from "../api/problem";
import type { SessionStatus, User } from "../api/types";

type State = { status: "loading" } | { status: "signedOut" } | { status: "signedIn"; user: User };

interface Auth {
  state: State;
  signIn: (username: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

function fromSession(session: SessionStatus): State {
  return session.signed_in && session.user ? { status: "signedIn", user: session.user } : { status: "signedOut" };
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>({ status: "loading" });

  useEffect(() => {
    setUnauthorizedHandler(() => setState({ status: "signedOut" }));
    return () => setUnauthorizedHandler(null);
  }, []);

  useEffect(() => {
    api.session().then(
      (session) => setState(fromSession(session)),
      (err: unknown) => {
        if (!(err instanceof ApiError)) console.warn("could not reach the API", err);
        setState({ status: "signedOut" });
      },
    );
  }, []);

  const signIn = useCallback(async (username: string, password: string) => {
    await api.login(username, password);
    setState(fromSession(await api.session()));
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      setState({ status: "signedOut" });
    }
  }, []);

  const value = useMemo(() => ({ state, signIn, signOut }), [state, signIn, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}

/** The signed-in user; only for components rendered behind the sign-in gate. */
export function useUser(): User {
  const { state } = useAuth();
  if (state.status !== "signedIn") throw new Error("useUser while signed out");
  return state.user;
}
