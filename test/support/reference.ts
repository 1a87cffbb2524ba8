/**
 * Locates the Python reference implementation (provisioned by the project's
 * scripts/reference-python.sh, cached under ~/.cache) for cross-language tests.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (tests run from dist/test/...). */
export const repoRoot = resolve(here, "..", "..", "..");

let cached: string | undefined;

/** The reference venv's bin/ directory (provisions it on first use). */
export function referenceBin(): string {
  if (cached) return cached;
  const fromEnv = process.env.VGI_REF_BIN;
  if (fromEnv && existsSync(join(fromEnv, "python"))) return (cached = fromEnv);
  const script = resolve(repoRoot, "scripts", "reference-python.sh");
  if (!existsSync(script)) throw new Error(`reference provisioning script not found at ${script}`);
  cached = execFileSync("bash", [script], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  return cached;
}

/** The reference's Python interpreter. */
export function referencePython(): string {
  return join(referenceBin(), "python");
}
