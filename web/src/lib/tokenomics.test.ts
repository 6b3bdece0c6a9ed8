import { describe, expect, it } from "vitest";
import type { CurveReport, Scenario } from "../api/types";
import {
  bareMessage,
  buildRequest,
  chartData,
  fieldErrors,
  labelOf,
  last30Days,
  logTicks,
  measuredText,
  perMtok,
  usd,
  valueOf,
} from "./tokenomics";

const scenario: Scenario = {
  name: "c845a",
  description: "",
  server: {
    model: "",
    gpu_model: "",
    gpus: 2,
    gpu_price: 9000,
    platform_price: 30000,
    idle_watts: 450,
    load_watts: 1800,
    mig_slices_per_gpu: 4,
  },
  fleet: { servers: 1, redundancy: { n_plus: 0, percent: 0 } },
  costs: {
    life_years: 5,
    cost_of_capital: 0.07,
    maintenance_rate: 0.08,
    software_per_gpu: 4500,
    software_per_server: 0,
    electricity_price: 0.13,
    pue: 1.56,
    facility_per_server: 0,
    staff_fte: 0,
    staff_cost_per_fte: 0,
  },
  utilization: 0.4,
  workload: {
    output_input_cost_ratio: 4,
    classes: [
      { name: "8B", share: 0.92, mig_slices: 1, output_tokens_per_s: 800, input_tokens: 1000, output_tokens: 250 },
      { name: "70B", share: 0.08, gpus: 1, output_tokens_per_s: 600, input_tokens: 2000, output_tokens: 500 },
    ],
  },
  apis: [],
  practical_ceiling: 0.85,
};

describe("buildRequest", () => {
  it("sends the scenario unchanged and its utilization when nothing was edited", () => {
    expect(buildRequest(scenario, {}).body).toEqual({ scenario, utilization: 0.4 });
  });

  it("applies edits by path, numbers as numbers, without touching the original", () => {
    const { body } = buildRequest(scenario, {
      utilization: "0.8",
      "costs.pue": "1.2",
      "workload.classes.1.share": "0.1",
    });
    expect(body?.utilization).toBe(0.8);
    expect(body?.scenario?.utilization).toBe(0.4); // the override travels on its own
    expect(body?.scenario?.costs.pue).toBe(1.2);
    expect(body?.scenario?.workload.classes[1]?.share).toBe(0.1);
    expect(scenario.costs.pue).toBe(1.56);
  });

  it("passes out-of-range numbers on for the API to judge, but not text or blanks", () => {
    expect(buildRequest(scenario, { utilization: "1.3" }).body?.utilization).toBe(1.3);
    const bad = buildRequest(scenario, { utilization: "", "costs.pue": "abc" });
    expect(bad.body).toBeNull();
    expect(bad.problems).toEqual({ utilization: "Enter a number.", "costs.pue": "Enter a number." });
  });
});

describe("valueOf", () => {
  it("shows the typed text, else the scenario's figure", () => {
    expect(valueOf(scenario, {}, "utilization")).toBe("0.4");
    expect(valueOf(scenario, {}, "workload.classes.0.output_tokens_per_s")).toBe("800");
    expect(valueOf(scenario, { "costs.pue": "1." }, "costs.pue")).toBe("1.");
  });
});

describe("API errors", () => {
  it("land on the form's paths without the field repeated", () => {
    expect(
      fieldErrors([
        { field: "utilization", message: "utilization: Input should be less than or equal to 1" },
        { field: "scenario.costs.electricity_price", message: "Input should be greater than or equal to 0" },
      ]),
    ).toEqual({
      utilization: "Input should be less than or equal to 1",
      "costs.electricity_price": "Input should be greater than or equal to 0",
    });
    expect(bareMessage("scenario: the scenario lists no cloud API")).toBe("the scenario lists no cloud API");
  });

  it("are labelled as the form labels them", () => {
    expect(labelOf("costs.pue", [])).toBe("PUE");
    expect(labelOf("workload.classes.1.share", ["8B", "70B"])).toBe("70B: Share of requests");
    expect(labelOf("utilization", [])).toBe("Utilization");
  });
});

describe("formats", () => {
  it("dollars and dollars per million tokens", () => {
    expect(usd(26305.5)).toBe("$26,306");
    expect(perMtok(0.10700322)).toBe("$0.107");
    expect(perMtok(3.2)).toBe("$3.20");
  });
});

describe("chartData", () => {
  const curve: CurveReport = {
    scenario: "x",
    utilization: 0.4,
    practical_ceiling: 0.85,
    utilizations: [0.5, 1],
    curves: { blended: [0.2, 0.1], "Llama 3.1": [0.3, 0.15] },
    apis: [
      {
        api: "a",
        model_class: null,
        api_price_per_mtok: 3.2,
        breakeven_utilization: 0.01,
        required_utilization: 0.01,
        verdict: "",
      },
    ],
  };

  it("keys series by position, so a dotted class name is not read as a path", () => {
    const d = chartData(curve);
    expect(d.series).toEqual([
      { key: "s0", name: "blended" },
      { key: "s1", name: "Llama 3.1" },
    ]);
    expect(d.rows[1]).toEqual({ u: 1, s0: 0.1, s1: 0.15 });
  });

  it("spans whole decades, API prices included", () => {
    const d = chartData(curve);
    expect(d.domain).toEqual([0.1, 10]);
    expect(d.ticks).toEqual([0.1, 0.2, 0.5, 1, 2, 5, 10]);
    expect(logTicks(0.01, 0.1)).toEqual([0.01, 0.02, 0.05, 0.1]);
  });
});

describe("measured utilization", () => {
  it("asks for the 30 days up to now", () => {
    expect(last30Days(new Date("2030-01-31T12:00:00Z"))).toEqual({
      from: "2030-01-01T12:00:00Z",
      to: "2030-01-31T12:00:00Z",
    });
  });

  it("becomes the form's text, and nothing when nothing was booked", () => {
    expect(measuredText(0.123456)).toBe("0.123");
    expect(measuredText(0)).toBeNull();
  });
});
