/**
 * The package a user installs: `npm pack` of a clean copy of the package's
 * sources, installed into fresh projects the way a user would (an ESM project
 * with NodeNext resolution, a CommonJS project, a bundler-resolution project),
 * type-checked with `skipLibCheck: false` by the minimum TypeScript versions the
 * README states, and run: the README's examples (in-process `servePipe` and a
 * subprocess worker through `vgi-rpc/node`), `require()` of both entry points,
 * a bundled client, and the duplicate-apache-arrow error.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { repoRoot } from "./support/reference.js";

/** The minimum TypeScript for ESM and bundler consumers, and for CommonJS consumers (require of ESM types). */
const TS_MIN = "5.7";
const TS_MIN_CJS = "5.8";
const STEP_TIMEOUT = 60_000;

const npmAvailable = spawnSync("npm", ["--version"], { encoding: "utf8", timeout: 20_000 }).status === 0;
const skip = npmAvailable ? false : "npm is not available on PATH (the package test packs and installs with npm)";

const versionOf = (pkg: string): string => (JSON.parse(readFileSync(join(repoRoot, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
/** The environment of nested npm runs: without `npm test`'s lifecycle variables. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_(lifecycle|package)_/.test(k)));

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout: STEP_TIMEOUT, maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) failed (${r.error?.message ?? `status ${r.status}, signal ${r.signal}`}):\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}
const node = (args: string[], cwd: string) => run(process.execPath, args, cwd);
const npmInstall = (cwd: string, specs: string[]) => run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...specs], cwd);

let tmp = "";
let tarball = "";
let tools = "";
const tsc = (version: string) => join(tools, "node_modules", `typescript-${version}`, "bin", "tsc");

function project(name: string, pkg: object, tsconfig: object, files: Record<string, string>): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true, ...pkg }, null, 2));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

const strict = { strict: true, skipLibCheck: false, target: "ES2022", types: ["node"] };
/** What a user installs next to the package: the peer dependency and Node's types. */
const deps = () => [tarball, `apache-arrow@${versionOf("apache-arrow")}`, `@types/node@${versionOf("@types/node")}`];
const example = (path: string) => readFileSync(join(repoRoot, path), "utf8");

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), "vgi-rpc-package-"));
  // Pack from a copy of what git tracks for the package, so the working tree's dist/ is not touched.
  const src = join(tmp, "source");
  mkdirSync(src);
  for (const f of ["package.json", "tsconfig.json", "tsconfig.build.json", "README.md", "LICENSE", "src"]) cpSync(join(repoRoot, f), join(src, f), { recursive: true });
  symlinkSync(join(repoRoot, "node_modules"), join(src, "node_modules"), "dir");
  const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", tmp], src).replace(/^[^[]*/s, "")) as { filename: string }[];
  tarball = join(tmp, packed[0]!.filename);
  tools = join(tmp, "tools");
  mkdirSync(tools);
  writeFileSync(join(tools, "package.json"), JSON.stringify({ private: true }));
  npmInstall(tools, [`typescript-${TS_MIN}@npm:typescript@${TS_MIN}`, `typescript-${TS_MIN_CJS}@npm:typescript@${TS_MIN_CJS}`]);
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("the tarball holds the library, its types, README and LICENSE: no harness, no bin, no source maps", { skip, timeout: 30_000 }, () => {
  const listing = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8", timeout: 20_000 }).trim().split("\n");
  const files = listing.map((f) => f.replace(/^package\//, ""));
  for (const f of ["package.json", "README.md", "LICENSE", "dist/src/index.js", "dist/src/index.d.ts", "dist/src/node.js", "dist/src/node.d.ts"]) {
    assert.ok(files.includes(f), `${f} is packed`);
  }
  assert.deepEqual(files.filter((f) => !/^dist\/src\/.+\.(js|d\.ts)$/.test(f) && !["package.json", "README.md", "LICENSE"].includes(f)), []);
  assert.deepEqual(files.filter((f) => /conformance|\.map$/.test(f)), []);
  const pkg = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8", timeout: 20_000 })) as Record<string, any>;
  assert.equal(pkg.bin, undefined, "no bin lands in a consumer's node_modules/.bin");
  assert.equal(pkg.peerDependencies["apache-arrow"], ">=21.2.0 <22");
  assert.equal(pkg.dependencies["apache-arrow"], undefined, "apache-arrow is a peer, not a nested copy");
  for (const entry of [".", "./node"]) assert.deepEqual(Object.keys(pkg.exports[entry]), ["types", "import", "default"], `exports["${entry}"]`);
  const index = execFileSync("tar", ["-xzOf", tarball, "package/dist/src/index.js"], { encoding: "utf8", timeout: 20_000 });
  assert.doesNotMatch(index, /sourceMappingURL/, "shipped JavaScript points at no source map");
});

test(`an ESM NodeNext project type-checks the README examples with TypeScript ${TS_MIN} and runs them (pipe and subprocess worker)`, { skip, timeout: 120_000 }, () => {
  const dir = project(
    "consumer-esm",
    { type: "module" },
    { compilerOptions: { ...strict, module: "NodeNext", moduleResolution: "NodeNext", outDir: "out" }, include: ["**/*.ts"], exclude: ["node_modules", "out"] },
    {
      "quickstart.ts": example("examples/quickstart.ts"),
      "interceptors.ts": example("examples/interceptors.ts"),
      ...Object.fromEntries(["client", "service", "impl", "worker"].map((f) => [`calculator/${f}.ts`, example(`examples/calculator/${f}.ts`)])),
    },
  );
  npmInstall(dir, deps());
  node([tsc(TS_MIN), "-p", "."], dir);
  const quick = node(["out/quickstart.js"], dir);
  assert.match(quick, /^5$/m);
  assert.match(quick, /^Hello, Ada!$/m);
  assert.match(node(["out/interceptors.js"], dir), /^slept 20 ms$/m);
  const calc = node(["out/calculator/client.js"], dir);
  assert.match(calc, /divide\(1, 0\) failed remotely \(ZeroDivisionError\): division by zero/);
  assert.match(calc, /fibonacci: 0, 1, 1, 2, 3, 5, 8, 13, 21, 34/);
  assert.match(calc, /total = 14\.25/);
  // The package resolves to the installed copy, not to this repository.
  const resolved = node(["--input-type=module", "-e", 'console.log(import.meta.resolve("vgi-rpc/node"))'], dir).trim();
  assert.ok(resolved.startsWith(`file://${dir}/node_modules/vgi-rpc/dist/src/node.js`), resolved);
});

test(`a CommonJS project require()s both entry points (type-checked with TypeScript ${TS_MIN_CJS}) and runs a subprocess worker`, { skip, timeout: 120_000 }, () => {
  const service = `import { defineService, t, unary } from "vgi-rpc";
export const Adder = defineService("Adder", { add: unary({ a: t.float64, b: t.float64 }, t.float64) });
`;
  const dir = project(
    "consumer-cjs",
    { type: "commonjs" },
    { compilerOptions: { ...strict, module: "NodeNext", moduleResolution: "NodeNext", outDir: "out" }, include: ["*.ts"] },
    {
      "service.ts": service,
      "worker.ts": `import { runServer } from "vgi-rpc/node";
import { Adder } from "./service";
void runServer(Adder, { add: ({ a, b }) => a + b });
`,
      "main.ts": `import { servePipe } from "vgi-rpc";
import { connect } from "vgi-rpc/node";
import { Adder } from "./service";
async function main(): Promise<void> {
  const local = servePipe(Adder, { add: ({ a, b }) => a * b });
  const remote = connect(Adder, [process.execPath, require.resolve("./worker")]);
  console.log(\`pipe \${await local.add({ a: 2, b: 3 })} subprocess \${await remote.add({ a: 2, b: 3 })}\`);
  await local.close();
  await remote.close();
}
main().catch((err: unknown) => { console.error(err); process.exitCode = 1; });
`,
      "plain.cjs": `const vgi = require("vgi-rpc");
const nodeEntry = require("vgi-rpc/node");
console.log(typeof vgi.servePipe, typeof vgi.defineService, typeof nodeEntry.connect, typeof nodeEntry.runServer);
`,
    },
  );
  npmInstall(dir, deps());
  node([tsc(TS_MIN_CJS), "-p", "."], dir);
  assert.match(readFileSync(join(dir, "out", "main.js"), "utf8"), /require\("vgi-rpc\/node"\)/, "compiled as CommonJS");
  assert.equal(node(["out/main.js"], dir).trim(), "pipe 6 subprocess 5");
  // require(esm) is unflagged on Node >= 20.19 / >= 22.12; earlier releases need --experimental-require-module.
  const requireModule = (process as unknown as { features: { require_module?: boolean } }).features.require_module === true;
  const args = requireModule ? ["plain.cjs"] : ["--experimental-require-module", "plain.cjs"];
  assert.equal(node(args, dir).trim(), "function function function function");
});

test(`a bundler-resolution project type-checks with TypeScript ${TS_MIN} and its esbuild bundle runs`, { skip, timeout: 120_000 }, async () => {
  const dir = project(
    "consumer-bundler",
    { type: "module" },
    { compilerOptions: { ...strict, module: "ESNext", moduleResolution: "Bundler", noEmit: true }, include: ["*.ts"] },
    {
      "app.ts": `import { defineService, producer, servePipe, t, unary } from "vgi-rpc";
import type { RecordBatch } from "apache-arrow";
const S = defineService("S", {
  add: unary({ a: t.float64, b: t.float64 }, t.float64),
  count: producer({ n: t.int64 }, { output: { i: t.int64 } }),
});
const client = servePipe(S, {
  add: ({ a, b }) => a + b,
  count: ({ n }) => {
    let i = 0;
    return { produce: (out) => (i < n ? out.emitRows([{ i: i++ }]) : out.finish()) };
  },
});
const seen: string[] = [];
for await (const batch of await client.count({ n: 3 })) {
  const b: RecordBatch = batch;
  seen.push(...Array.from(b.getChild("i")!.toArray() as ArrayLike<unknown>, String));
}
console.log(await client.add({ a: 1, b: 2 }), seen.join(","));
await client.close();
`,
    },
  );
  npmInstall(dir, deps());
  node([tsc(TS_MIN), "-p", "."], dir);
  const esbuild = await import("esbuild");
  await esbuild.build({ absWorkingDir: dir, entryPoints: ["app.ts"], bundle: true, platform: "node", format: "esm", target: "node20", outfile: "bundle.mjs", logLevel: "silent" });
  assert.equal(node(["bundle.mjs"], dir).trim(), "3 0,1,2");
});

for (const [label, version] of [
  ["the same apache-arrow version (21's brand passes instanceof)", () => versionOf("apache-arrow")],
  ["apache-arrow 20 (fails instanceof)", () => "20"],
] as const) {
  test(`a RecordBatch from a second copy of apache-arrow, ${label}, is refused with the duplicate-copy cause and its fix`, { skip, timeout: 120_000 }, () => {
    const dir = project(
      `consumer-two-arrows-${version()}`,
      { type: "module" },
      { compilerOptions: { ...strict, module: "NodeNext", moduleResolution: "NodeNext", outDir: "out" }, include: ["*.ts"] },
      {
        "app.ts": `import { defineService, exchange, producer, servePipe, t } from "vgi-rpc";
import * as other from "other-arrow";
const foreign = () => other.tableFromArrays({ x: new Float64Array([1, 2]) }).batches[0]!;
const S = defineService("S", {
  numbers: producer({}, { output: { x: t.float64 } }),
  double: exchange({}, { input: { x: t.float64 }, output: { x: t.float64 } }),
});
await using client = servePipe(S, {
  numbers: () => ({ produce: (out) => out.emit(foreign() as never) }),
  double: () => ({ exchange: (input, out) => out.emit(input) }),
});
try {
  for await (const _ of await client.numbers({})) void _;
  console.log("emit: accepted");
} catch (err) {
  console.log("emit:", (err as Error).message);
}
const session = await client.double({});
try {
  await session.exchange(foreign() as never);
  console.log("exchange: accepted");
} catch (err) {
  console.log("exchange:", (err as Error).name, (err as Error).message);
}
await session.close();
`,
      },
    );
    npmInstall(dir, [...deps(), `other-arrow@npm:apache-arrow@${version()}`]);
    node([tsc(TS_MIN), "-p", "."], dir);
    const out = node(["out/app.js"], dir);
    const lines = out.trim().split("\n");
    assert.match(lines.find((l) => l.startsWith("emit:")) ?? "", /^emit: emit\(\) received an apache-arrow RecordBatch from a different copy .* two copies of apache-arrow are installed .*npm ls apache-arrow.*peer dependency/, out);
    assert.match(lines.find((l) => l.startsWith("exchange:")) ?? "", /^exchange: \w+ .*exchange input received an apache-arrow RecordBatch from a different copy .* two copies of apache-arrow are installed/, out);
  });
}

test("the packed files are exactly the library's modules", { skip, timeout: 30_000 }, () => {
  // Every module of src/ ships (as .js and .d.ts), and nothing else under dist/.
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
  const expected = sources(join(repoRoot, "src"))
    .map((f) => relative(repoRoot, f).replace(/\.ts$/, ""))
    .flatMap((m) => [`dist/${m}.js`, `dist/${m}.d.ts`])
    .sort();
  const packed = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8", timeout: 20_000 })
    .trim()
    .split("\n")
    .map((f) => f.replace(/^package\//, ""))
    .filter((f) => f.startsWith("dist/"))
    .sort();
  assert.deepEqual(packed, expected);
});
