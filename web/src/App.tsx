// The shell: sign-in gate, navigation, and one page per path.
import { lazy, Suspense, useEffect } from "react";
import { useAuth } from "./auth/AuthContext";
import { ControlPlaneBanner } from "./components/ControlPlaneBanner";
import { Nav } from "./components/Nav";
import { navigate, useLocation } from "./lib/router";
import { PAGES } from "./routes";
import { AvailabilityPage } from "./pages/AvailabilityPage";
import { BookPage } from "./pages/BookPage";
import { ApprovalsPage } from "./pages/ApprovalsPage";
import { MyReservationsPage } from "./pages/MyReservationsPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { SignInPage } from "./pages/SignInPage";
import { WaitlistPage } from "./pages/WaitlistPage";

// The calendar, usage, tokenomics and admin pages carry the heavy parts (FullCalendar, recharts); they
// load on first visit.
const CalendarPage = lazy(() => import("./pages/CalendarPage"));
const TokenomicsPage = lazy(() => import("./pages/TokenomicsPage"));
const UsagePage = lazy(() => import("./pages/UsagePage"));
const TeamsPage = lazy(() => import("./pages/TeamsPage"));
const AdminPage = lazy(() => import("./pages/AdminPage"));

const TITLES: Record<string, string> = Object.fromEntries(PAGES.map((p) => [p.path, p.label]));

function Page({ path, isAdmin }: { path: string; isAdmin: boolean }) {
  switch (path) {
    case "/availability":
      return <AvailabilityPage />;
    case "/calendar":
      return <CalendarPage />;
    case "/book":
      return <BookPage />;
    case "/reservations":
      return <MyReservationsPage />;
    case "/waitlist":
      return <WaitlistPage />;
    case "/approvals":
      return <ApprovalsPage />;
    case "/usage":
      return <UsagePage />;
    case "/teams":
      return <TeamsPage isAdmin={isAdmin} />;
    case "/tokenomics":
      return <TokenomicsPage />;
    case "/admin":
      return isAdmin ? <AdminPage /> : <NotFoundPage />;
    default:
      return <NotFoundPage />;
  }
}

export function App() {
  const { state } = useAuth();
  const { path } = useLocation();

  useEffect(() => {
    if (path === "/" || path === "/signin") navigate("/availability", { replace: true });
  }, [path]);

  useEffect(() => {
    const title = state.status === "signedIn" ? TITLES[path] : "Sign in";
    document.title = title ? `${title} · Berth` : "Berth";
  }, [path, state.status]);

  if (state.status === "loading") {
    return (
      <p className="loading" role="status">
        Loading…
      </p>
    );
  }
  if (state.status === "signedOut") return <SignInPage />;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Nav user={state.user} path={path} />
      <main id="main" tabIndex={-1}>
        <ControlPlaneBanner />
        <Suspense fallback={<p role="status">Loading…</p>}>
          <Page path={path} isAdmin={state.user.role === "admin"} />
        </Suspense>
      </main>
    </>
  );
}
