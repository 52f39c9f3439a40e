// npm run bench [-- <name> [options]]: runs one benchmark (default: ingest). Each prints one JSON line last.
const BENCHES: Record<string, string> = {
  ingest: "./ingest.ts",
  proofs: "./proofs.ts",
  subscribe: "./subscribe.ts",
  catchup: "./catchup.ts",
  anchor: "./anchor.ts",
  scale: "./scale.ts",
  sdk: "./sdk.ts",
};
const name = process.argv[2] !== undefined && !process.argv[2].startsWith("-") ? process.argv[2] : "ingest";
if (process.argv.includes("--list")) {
  process.stdout.write(`${Object.keys(BENCHES).join("\n")}\n`);
  process.exit(0);
}
const file = BENCHES[name];
if (file === undefined) {
  process.stderr.write(`unknown bench ${JSON.stringify(name)}; one of: ${Object.keys(BENCHES).join(", ")}\n`);
  process.exit(2);
}
await import(file);
