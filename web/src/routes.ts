// The pages of the portal, in navigation order.
export const PAGES = [
  { path: "/availability", label: "Availability", admin: false },
  { path: "/calendar", label: "Calendar", admin: false },
  { path: "/book", label: "Book", admin: false },
  { path: "/reservations", label: "My reservations", admin: false },
  { path: "/waitlist", label: "Waitlist", admin: false },
  { path: "/approvals", label: "Approvals", admin: false },
  { path: "/usage", label: "Usage", admin: false },
  { path: "/teams", label: "Teams", admin: false },
  { path: "/tokenomics", label: "Tokenomics", admin: false },
  { path: "/admin", label: "Admin", admin: true },
] as const;
