// The Python end-to-end client needs Debian's grpcio, protobuf and cryptography packages, importable from
// Debian's own interpreter, and Debian's protoc with its gRPC Python plugin to generate stubs. The test command
// installs them when they are missing (as root, with apt-get).
import { execFileSync, spawnSync } from "node:child_process";

export const PYTHON_PACKAGES = [
  "python3-grpcio",
  "python3-grpc-tools",
  "python3-protobuf",
  "python3-cryptography",
  "protobuf-compiler",
  "protobuf-compiler-grpc",
];
const CHECK = "import grpc, grpc_tools, google.protobuf, cryptography";

/** Debian's python3 (not a pyenv shim earlier on PATH). */
export function debianPython(): string {
  return (
    execFileSync("sh", ["-c", "command -p -v python3"], { encoding: "utf8" }).trim() || "/usr/bin/python3"
  );
}

function importable(): boolean {
  return (
    spawnSync(debianPython(), ["-c", CHECK], { stdio: "ignore" }).status === 0 &&
    spawnSync("sh", ["-c", "command -v protoc && test -x /usr/bin/grpc_python_plugin"], { stdio: "ignore" })
      .status === 0
  );
}

export function ensurePythonDeps(): void {
  if (importable()) return;
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status === 0;
  if (!isRoot || !hasApt) {
    throw new Error(
      `The Python end-to-end test needs ${PYTHON_PACKAGES.join(" ")} (Debian packages, for ${debianPython()}). ` +
        `Install them with: sudo apt-get install -y ${PYTHON_PACKAGES.join(" ")}`,
    );
  }
  process.stderr.write(`installing ${PYTHON_PACKAGES.join(" ")} for the Python end-to-end test...\n`);
  const install = (): number | null =>
    spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...PYTHON_PACKAGES], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    }).status;
  if (install() !== 0) {
    spawnSync("apt-get", ["update"], { stdio: ["ignore", "ignore", "inherit"] });
    install();
  }
  if (!importable())
    throw new Error(`apt-get could not provide ${PYTHON_PACKAGES.join(" ")}; see the output above`);
}
