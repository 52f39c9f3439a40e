import { startEmbeddedPostgres } from "./src/infra/pg/embeddedPostgres.ts";
import postgres from "postgres";
const dir = process.argv[2]!;
const t0 = Date.now();
const pg = await startEmbeddedPostgres({ dataDir: dir, port: 0 });
console.log("started", Date.now() - t0, "ms", pg.port, pg.created);
const sql = postgres(pg.url, { max: 2 });
console.log((await sql`select version()`)[0]);
try { await startEmbeddedPostgres({ dataDir: dir, port: 0 }); } catch (e) { console.log("second:", (e as Error).message); }
await sql.end();
const t1 = Date.now();
await pg.stop();
console.log("stopped", Date.now() - t1, "ms");
