// What the Python end-to-end test needs: Debian's grpcio, protobuf and cryptography packages, importable from
// Debian's own interpreter, and Debian's protoc with its gRPC Python plugin to generate stubs. Only detected
// here: the test run never installs system packages (.ci/run does, before `npm test`).
import { spawnSync } from "node:child_process";

export const PYTHON_PACKAGES = [
  "python3-grpcio",
  "python3-grpc-tools",
  "python3-protobuf",
  "python3-cryptography",
  "protobuf-compiler",
  "protobuf-compiler-grpc",
] as const;

export const PYTHON_INSTALL_COMMAND = `sudo apt-get install -y ${PYTHON_PACKAGES.join(" ")}`;

const MODULES = [
  ["grpc", "python3-grpcio"],
  ["grpc_tools", "python3-grpc-tools"],
  ["google.protobuf", "python3-protobuf"],
  ["cryptography.hazmat.primitives.asymmetric.ed25519", "python3-cryptography"],
] as const;

/** Environment for Debian's python3: PYTHONHOME/PYTHONPATH from a pyenv setup would confuse it. */
export function debianPythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" };
  delete env.PYTHONHOME;
  delete env.PYTHONPATH;
  return env;
}

/**
 * The Debian packages that are missing, by name (empty when everything is present). Debian's interpreter is
 * `command -p python3`, not a pyenv shim earlier on PATH, which cannot import Debian's packages.
 */
export function missingPythonPackages(): string[] {
  const missing: string[] = [];
  const hasPython = spawnSync("sh", ["-c", "command -p -v python3"], { stdio: "ignore" }).status === 0;
  for (const [module, pkg] of MODULES) {
    const ok =
      hasPython &&
      spawnSync("sh", ["-c", `command -p python3 -c 'import ${module}'`], {
        stdio: "ignore",
        env: debianPythonEnv(),
        timeout: 20_000,
      }).status === 0;
    if (!ok) missing.push(pkg);
  }
  if (spawnSync("sh", ["-c", "command -v protoc"], { stdio: "ignore" }).status !== 0)
    missing.push("protobuf-compiler");
  if (spawnSync("sh", ["-c", "test -x /usr/bin/grpc_python_plugin"], { stdio: "ignore" }).status !== 0)
    missing.push("protobuf-compiler-grpc");
  return missing;
}
