import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { Problem } from "../api/problem";
import { RefusalPanel } from "./RefusalPanel";

const overBudget: Problem = {
  status: 409,
  detail:
    "over team 'ml''s budget in pool 'c845a': 4 x gpu at once; 0 free of it, 1 asked. Book less, later, or ask for approval",
  budget: { team: "ml", budget: "units", limit: 4, used: 4, asked: 1, left: 0 },
  ask: true,
};

describe("a refused booking", () => {
  it("offers to ask for approval when the team's budget refused it", () => {
    const html = renderToStaticMarkup(
      <RefusalPanel problem={overBudget} onUseSuggestion={() => {}} onAsk={() => {}} />,
    );
    expect(html).toContain("Ask anyway");
    expect(html).toContain("over team");
  });

  it("does not when the pool is short", () => {
    const short: Problem = {
      status: 409,
      detail: "not enough gpu",
      shortage: { resource: "gpu", start: "2030-01-07T09:00:00Z", end: "2030-01-07T10:00:00Z", free: 0, asked: 1 },
    };
    const html = renderToStaticMarkup(<RefusalPanel problem={short} onUseSuggestion={() => {}} onAsk={() => {}} />);
    expect(html).not.toContain("Ask anyway");
  });
});
