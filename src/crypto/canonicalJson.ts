// RFC 8785 JSON Canonicalization Scheme for payload and policy hashes (docs/protocol.md §0.2, §2.2, §16.5).
import canonicalizeModule from "canonicalize";
import { assertBytes } from "./bytes.js";

type Canonicalize = (input: unknown) => string | undefined;

// canonicalize is CommonJS (`module.exports = fn`) with a typings file that declares an ES default export,
// so under NodeNext the default import is typed as the module object while Node and bundlers hand us `fn`.
const canonicalize: Canonicalize =
  typeof canonicalizeModule === "function"
    ? (canonicalizeModule as Canonicalize)
    : (canonicalizeModule as unknown as { default: Canonicalize }).default;

const LONE_SURROGATE = /\p{Cs}/u;
// JSON.stringify writes a lone surrogate as a lowercase \udXXX escape and never escapes a paired one.
const ESCAPED_SURROGATE_OUT = /\\ud[89a-f]/;
const ESCAPED_SURROGATE_IN = /\\u[dD][89a-fA-F]/;
// canonicalize writes a function member or item as a bare `undefined` token.
const BARE_UNDEFINED = /[[:,]undefined(?=[,\]}]|$)/;

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function typeName(v: unknown): string {
  return v === undefined ? "undefined" : `a ${typeof v}`;
}

function pointer(path: readonly (string | number)[]): string {
  if (path.length === 0) return "the top level";
  return path.map((p) => `/${String(p).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

/**
 * Finds the first value that has no canonical JSON form, walking as `canonicalize` does (toJSON first,
 * undefined and symbol object members skipped). Only called when the fast path saw a hint of trouble.
 */
function findProblem(value: unknown): Error | undefined {
  const path: (string | number)[] = [];
  const ancestors = new Set<object>();
  const visit = (v: unknown): Error | undefined => {
    if (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function") {
      v = (v as { toJSON: () => unknown }).toJSON();
    }
    switch (typeof v) {
      case "string":
        return LONE_SURROGATE.test(v)
          ? new RangeError(`canonical JSON: lone UTF-16 surrogate in a string at ${pointer(path)}`)
          : undefined;
      case "number":
        return Number.isFinite(v)
          ? undefined
          : new RangeError(`canonical JSON: ${v} at ${pointer(path)} is not a JSON number`);
      case "boolean":
        return undefined;
      case "object": {
        if (v === null) return undefined;
        if (ancestors.has(v)) return new TypeError(`canonical JSON: cyclic structure at ${pointer(path)}`);
        ancestors.add(v);
        let found: Error | undefined;
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length && found === undefined; i++) {
            const item: unknown = v[i];
            // canonicalize writes undefined and symbol items as null
            if (item === undefined || typeof item === "symbol") continue;
            path.push(i);
            found = visit(item);
            path.pop();
          }
        } else {
          const record = v as Record<string, unknown>;
          for (const key of Object.keys(record)) {
            const item = record[key];
            if (item === undefined || typeof item === "symbol") continue;
            path.push(key);
            found = LONE_SURROGATE.test(key)
              ? new RangeError(`canonical JSON: lone UTF-16 surrogate in a key at ${pointer(path)}`)
              : visit(item);
            path.pop();
            if (found !== undefined) break;
          }
        }
        ancestors.delete(v);
        return found;
      }
      default:
        return new TypeError(`canonical JSON: ${typeName(v)} at ${pointer(path)} has no JSON form`);
    }
  };
  return visit(value);
}

/**
 * RFC 8785 canonical JSON text of `value`: keys sorted by UTF-16 code units, numbers in ES6 form.
 * Throws RangeError for a lone surrogate in a string or key and for NaN/±Infinity (upstream serde_json
 * refuses both), TypeError for values with no JSON form (bigint, function, undefined at the top level).
 */
export function canonicalJson(value: unknown): string {
  let out: string | undefined;
  try {
    out = canonicalize(value);
  } catch (error) {
    throw findProblem(value) ?? error;
  }
  if (out === undefined)
    throw new TypeError(`canonical JSON: ${typeName(value)} at the top level has no JSON form`);
  // Cheap scan of the output; walk the input only when it hints at a lone surrogate or a function.
  if (ESCAPED_SURROGATE_OUT.test(out) || BARE_UNDEFINED.test(out)) {
    const problem = findProblem(value);
    if (problem !== undefined) throw problem;
  }
  return out;
}

/**
 * The deepest nesting upstream accepts: serde_json's recursion limit of 128 refuses a value nested 128
 * levels deep (its depth counter reaches 0 on the 128th open bracket), so 127 is the most that parses.
 */
export const MAX_JSON_DEPTH = 127;

/** Deepest nesting of arrays and objects in JSON text (strings skipped); a linear scan, no recursion. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * Parses a JSON payload from bytes as upstream does: strict UTF-8 (no BOM stripping), JSON text, and
 * no lone surrogate escapes. Throws TypeError for invalid UTF-8 and SyntaxError for anything else.
 * Messages name `title` and never quote the payload.
 */
export function parseJsonPayload(bytes: Uint8Array, title = "payload"): unknown {
  assertBytes(bytes, undefined, title);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (error) {
    throw new TypeError(`"${title}" expected UTF-8 JSON text, got invalid UTF-8`, { cause: error });
  }
  const depth = nestingDepth(text);
  if (depth > MAX_JSON_DEPTH) {
    throw new SyntaxError(
      `"${title}" expected JSON nested at most ${MAX_JSON_DEPTH} levels deep, got ${depth}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = text.trim() === "" ? "no JSON value" : "invalid JSON";
    throw new SyntaxError(`"${title}" expected JSON text, got ${detail}`, { cause: error });
  }
  if (ESCAPED_SURROGATE_IN.test(text)) {
    const problem = findProblem(value);
    if (problem !== undefined) {
      throw new SyntaxError(
        `"${title}" expected JSON text, got ${problem.message.replace("canonical JSON: ", "")}`,
      );
    }
  }
  return value;
}
