import { describe, expect, it } from "vitest";
import { apiKeyPrefixOf, formatApiKey, isApiKeyPrefix } from "./apiKey.js";

describe("API key format", () => {
  it("is ves_<12 hex>_<43 base64url> and its prefix names it", () => {
    const { prefix, key } = formatApiKey(
      new Uint8Array([1, 2, 3, 4, 5, 0xff]),
      new Uint8Array(32).fill(0xfb),
    );
    expect(prefix).toBe("ves_0102030405ff");
    expect(key).toBe(`ves_0102030405ff_${Buffer.from(new Uint8Array(32).fill(0xfb)).toString("base64url")}`);
    expect(apiKeyPrefixOf(key)).toBe(prefix);
    expect(isApiKeyPrefix(prefix)).toBe(true);
  });

  it("rejects anything else", () => {
    const good = formatApiKey(new Uint8Array(6), new Uint8Array(32)).key;
    for (const bad of [
      good.slice(0, -1),
      `${good}A`,
      good.replace("ves_", "ss_"),
      good.toUpperCase(),
      "",
      "ves__x",
    ]) {
      expect(apiKeyPrefixOf(bad), bad).toBeUndefined();
    }
    expect(() => formatApiKey(new Uint8Array(5), new Uint8Array(32))).toThrow(RangeError);
  });
});
