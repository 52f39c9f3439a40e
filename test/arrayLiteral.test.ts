// The hand-built array literals of the ingest INSERT round-trip any value through a real PostgreSQL.
import fc from "fast-check";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { byteaArray, plainArray, textArray } from "../src/infra/pg/arrayLiteral.js";
import { createTestDatabase, type TestDatabase } from "./support/db.js";

let db: TestDatabase;
let sql: postgres.Sql;
beforeAll(async () => {
  db = await createTestDatabase();
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end({ timeout: 1 });
  await db?.drop();
});

// Values are read back as JSON: postgres.js's own array parser turns NULL elements into the string "NULL".
// PostgreSQL text cannot hold NUL; everything else (quotes, backslashes, braces, commas, blanks, "NULL",
// non-ASCII, emoji) must survive.
const pgText = fc.string({ unit: "grapheme", maxLength: 40 }).filter((s) => !s.includes("\u0000"));
const tricky = fc.constantFrom("", "NULL", "null", " a ", '"', "\\", "{a,b}", "a,b", "\\x00", "é😀", "\t\n");

describe("array literals", () => {
  it("round-trip arbitrary text, including nulls", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(fc.oneof(pgText, tricky), { nil: null }), { maxLength: 20 }),
        async (values) => {
          const [row] = await sql<
            { v: (string | null)[] }[]
          >`select to_json(${textArray(values)}::text[]) as v`;
          expect(row?.v).toEqual(values);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("round-trip arbitrary bytes, including nulls and empty values", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(fc.uint8Array({ maxLength: 70 }), { nil: null }), { maxLength: 20 }),
        async (values) => {
          const [row] = await sql<{ v: (string | null)[] | null }[]>`
          select json_agg(encode(b, 'hex') order by i) as v
          from unnest(${byteaArray(values)}::bytea[]) with ordinality as t(b, i)`;
          expect(row?.v ?? []).toEqual(
            values.map((b) => (b === null ? null : Buffer.from(b).toString("hex"))),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it("round-trip UUIDs and bigints", async () => {
    const [row] = await sql<{ u: (string | null)[]; n: string[] }[]>`
      select to_json(${plainArray(["00000000-0000-4000-8000-000000000001", null])}::uuid[]) as u,
             to_json(${plainArray([1n, 9223372036854775807n, 0])}::bigint[]::text[]) as n`;
    expect(row).toEqual({
      u: ["00000000-0000-4000-8000-000000000001", null],
      n: ["1", "9223372036854775807", "0"],
    });
  });
});
