// JWT bearer tokens (docs/protocol.md §3.2): HS256 only, verified with `jose` against the configured secret,
// issuer and audience; exp, nbf, iat, sub and jti are required.
import { errors, jwtVerify } from "jose";
import type { TokenVerifier } from "../app/ports.js";
import { DomainError } from "../domain/errors.js";

export interface JwtSettings {
  readonly secret: Uint8Array;
  readonly issuer: string;
  readonly audience: string;
  /** Allowed clock skew for exp and nbf. */
  readonly clockToleranceSeconds: number;
}

function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "the token expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    return err.claim === "nbf"
      ? "the token is not valid yet (nbf)"
      : `token claim "${err.claim}" is not valid (${err.reason})`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (err instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not HS256";
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return "malformed token";
  return "the token is not valid";
}

export function createJoseTokenVerifier(settings: JwtSettings): TokenVerifier {
  return {
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, settings.secret, {
          algorithms: ["HS256"],
          issuer: settings.issuer,
          audience: settings.audience,
          requiredClaims: ["sub", "exp", "nbf", "iat", "jti"],
          clockTolerance: settings.clockToleranceSeconds,
        });
        return payload;
      } catch (err) {
        throw new DomainError("unauthenticated", `bearer token refused: ${reasonOf(err)}`, {
          field: "authorization",
          cause: err,
        });
      }
    },
  };
}
