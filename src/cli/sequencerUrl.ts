// The sequencer URL a command-line tool talks to by default: SEQUENCER_URL, else the address `npm start` listens
// on with the same environment (HOST and PORT; a wildcard HOST is reached on the loopback address).
export function defaultSequencerUrl(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SEQUENCER_URL !== undefined && env.SEQUENCER_URL !== "") return env.SEQUENCER_URL;
  const host =
    env.HOST === undefined || env.HOST === "" || env.HOST === "0.0.0.0" || env.HOST === "::"
      ? "127.0.0.1"
      : env.HOST;
  const port = env.PORT === undefined || env.PORT === "" ? "50051" : env.PORT;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
