import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { createJoseTokenVerifier } from "./joseTokenVerifier.js";

const secret = new TextEncoder().encode("a-secret-of-at-least-thirty-two-bytes!!");
const verifier = createJoseTokenVerifier({
  secret,
  issuer: "iss",
  audience: "aud",
  clockToleranceSeconds: 5,
});
const now = Math.floor(Date.now() / 1000);

function token(
  o: {
    alg?: string;
    iss?: string;
    aud?: string;
    exp?: number;
    nbf?: number;
    jti?: boolean;
    key?: Uint8Array;
  } = {},
) {
  const t = new SignJWT({ perms: "read" })
    .setProtectedHeader({ alg: o.alg ?? "HS256" })
    .setSubject("11111111-1111-4111-8111-111111111111")
    .setIssuer(o.iss ?? "iss")
    .setAudience(o.aud ?? "aud")
    .setIssuedAt(now - 10)
    .setNotBefore(o.nbf ?? now - 10)
    .setExpirationTime(o.exp ?? now + 60);
  return (o.jti === false ? t : t.setJti("j1")).sign(o.key ?? secret);
}

describe("JWT verification (HS256, jose)", () => {
  it("accepts a good token and returns its claims", async () => {
    await expect(verifier.verify(await token())).resolves.toMatchObject({ perms: "read", jti: "j1" });
  });

  it.each([
    ["expired", { exp: now - 60 }, /the token expired/],
    ["not yet valid", { nbf: now + 600 }, /not valid yet/],
    ["another issuer", { iss: "evil" }, /"iss"/],
    ["another audience", { aud: "evil" }, /"aud"/],
    ["without jti", { jti: false }, /"jti"/],
    [
      "signed with another key",
      { key: new TextEncoder().encode("another-secret-of-at-least-32-bytes!!") },
      /signature/,
    ],
    ["HS512", { alg: "HS512" }, /algorithm is not HS256/],
  ])("refuses a token %s as unauthenticated", async (_, o, message) => {
    await expect(verifier.verify(await token(o))).rejects.toMatchObject({
      reason: "unauthenticated",
      message: expect.stringMatching(message),
    });
  });

  it("refuses garbage and the none algorithm", async () => {
    await expect(verifier.verify("not.a.jwt")).rejects.toMatchObject({ reason: "unauthenticated" });
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from("{}").toString("base64url")}.`;
    await expect(verifier.verify(none)).rejects.toMatchObject({ reason: "unauthenticated" });
  });
});
