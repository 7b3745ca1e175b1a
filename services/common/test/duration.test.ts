import { describe, expect, it } from "vitest";
import { addDuration, parseDuration, periodAt } from "../src/duration.js";

const at = (iso: string) => Date.parse(iso);

describe("parseDuration", () => {
  it.each([
    ["30s", { ms: 30_000 }],
    ["30m", { ms: 1_800_000 }],
    ["2h", { ms: 7_200_000 }],
    ["30d", { ms: 2_592_000_000 }],
    ["1w", { ms: 604_800_000 }],
    ["2mo", { months: 2 }],
  ])("reads %s", (text, duration) => expect(parseDuration(text, "duration")).toEqual(duration));

  it.each(["", "30", "30y", "1M", "-1d", "0d", "0mo", "1.5h"])("refuses %j with a 400 naming the field", (text) => {
    expect(() => parseDuration(text, "budget_duration")).toThrow(/budget_duration/);
  });

  it("takes up to 100 years, and refuses longer: what it adds to a date must stay a date", () => {
    expect(parseDuration("36500d", "duration")).toEqual({ ms: 36_500 * 86_400_000 });
    expect(parseDuration("1200mo", "duration")).toEqual({ months: 1200 });
    for (const text of ["36601d", "1201mo", "200000000d", "99999999mo", "99999999999999999999s"]) {
      expect(() => parseDuration(text, "budget_duration")).toThrow(/budget_duration must be at most 100 years/);
    }
  });
});

describe("months, as LiteLLM counts them", () => {
  it("keeps the day and time of day, or takes the month's last day when it is shorter", () => {
    expect(addDuration(at("2026-01-15T10:30:00Z"), { months: 1 })).toBe(at("2026-02-15T10:30:00Z"));
    expect(addDuration(at("2026-01-31T10:30:00Z"), { months: 1 })).toBe(at("2026-02-28T10:30:00Z"));
    expect(addDuration(at("2028-01-31T00:00:00Z"), { months: 1 })).toBe(at("2028-02-29T00:00:00Z"));
    expect(addDuration(at("2026-11-30T00:00:00Z"), { months: 3 })).toBe(at("2027-02-28T00:00:00Z"));
  });

  it("counts every period from its origin, so one that began on the 31st comes back to the 31st", () => {
    const origin = at("2026-01-31T12:00:00Z");
    expect(periodAt(origin, { months: 1 }, at("2026-03-05T00:00:00Z"))).toEqual({ start: at("2026-02-28T12:00:00Z"), end: at("2026-03-31T12:00:00Z") });
    expect(periodAt(origin, { months: 1 }, at("2026-03-31T12:00:00Z"))).toEqual({ start: at("2026-03-31T12:00:00Z"), end: at("2026-04-30T12:00:00Z") });
    expect(periodAt(origin, { months: 2 }, at("2026-01-31T12:00:00Z"))).toEqual({ start: origin, end: at("2026-03-31T12:00:00Z") });
  });

  it("cuts fixed lengths into equal periods from the origin", () => {
    expect(periodAt(1_000, { ms: 604_800_000 }, 1_000 + 604_800_000 * 2 + 5)).toEqual({ start: 1_000 + 604_800_000 * 2, end: 1_000 + 604_800_000 * 3 });
  });
});
