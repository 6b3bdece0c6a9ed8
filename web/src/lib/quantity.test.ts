import { describe, expect, it } from "vitest";
import { fmtAmount, parseBytes } from "./quantity";

describe("quantity", () => {
  it("parses the API's memory quantities", () => {
    expect(parseBytes("96Gi")).toBe(96 * 2 ** 30);
    expect(parseBytes("1Ti")).toBe(2 ** 40);
    expect(parseBytes("512")).toBe(512);
    expect(parseBytes("lots")).toBeNaN();
  });

  it("formats amounts per resource", () => {
    expect(fmtAmount("mig-1g.24gb", 2)).toBe("2 × mig-1g.24gb");
    expect(fmtAmount("cpu", 16)).toBe("16 CPU");
    expect(fmtAmount("memory_bytes", 96 * 2 ** 30)).toBe("96 GiB memory");
  });
});
