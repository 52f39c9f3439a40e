// Checks once, before any test, that the PostgreSQL the tests use answers; fails with what to do if not.
import postgres from "postgres";
import { testDatabaseUrl } from "./db.js";

export async function setup(): Promise<void> {
  const url = testDatabaseUrl();
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (err) {
    throw new Error(
      `The tests need a PostgreSQL server at ${url} (set TEST_DATABASE_URL to use another). ` +
        `It did not answer: ${(err as Error).message}. Start one (e.g. \`pg_ctlcluster 15 main start\`) or run .ci/run, which starts it.`,
    );
  } finally {
    await sql.end({ timeout: 1 });
  }
}
