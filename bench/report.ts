/**
 * Printing the benchmark's tables and judging the targets.
 */

export const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }) : "—");
export const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? a / b : NaN);
export const times = (x: number) => (Number.isFinite(x) ? `×${fmt(x, 2)}` : "—");
export const pct = (x: number) => (Number.isFinite(x) ? `${fmt(100 * x, 1)}%` : "—");
export const mib = (bytes: number) => `${fmt(bytes / 1048576, 0)} MiB`;

export interface Column<R> {
  head: string;
  /** Right-aligned (numbers) unless false. */
  right?: boolean;
  get(row: R): string;
}

/** Prints a titled table with columns sized to their content. */
export function printTable<R>(title: string, columns: Column<R>[], rows: readonly R[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return console.log("(nothing measured)");
  const cells = rows.map((r) => columns.map((c) => c.get(r)));
  const widths = columns.map((c, i) => Math.max(c.head.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => (columns[i]!.right === false ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join("  ").trimEnd();
  console.log(line(columns.map((c) => c.head)));
  for (const row of cells) console.log(line(row));
}

export type TargetStatus = "met" | "not met" | "not measured";
export interface TargetResult { target: string; figure: string; status: TargetStatus; reason?: string }

/** One ratio of a target, labelled (e.g. "pipe 1.05×"); NaN when not measured, with the reason. */
export interface Measure { label: string; value: number; reason?: string }

/**
 * Judges a target over its measures: met when every measured value passes, not measured when none was measured.
 * `show` formats a value for the figure column.
 */
export function judge(target: string, measures: Measure[], pass: (v: number) => boolean, show: (v: number) => string = times): TargetResult {
  const measured = measures.filter((m) => Number.isFinite(m.value));
  const missing = measures.filter((m) => !Number.isFinite(m.value));
  const figure = measures.map((m) => `${m.label} ${Number.isFinite(m.value) ? show(m.value) : "—"}`).join("; ");
  const reason = missing.length ? missing.map((m) => `${m.label}: ${m.reason ?? "not measured"}`).join("; ") : undefined;
  if (measured.length === 0) return { target, figure, status: "not measured", reason };
  return { target, figure, status: measured.every((m) => pass(m.value)) ? "met" : "not met", reason };
}

export function printTargets(results: TargetResult[]): void {
  printTable(
    "targets (issue, item 2), ratios within this run",
    [
      { head: "target", right: false, get: (r) => r.target },
      { head: "status", right: false, get: (r) => r.status },
      { head: "figure", right: false, get: (r) => r.figure },
    ],
    results,
  );
  for (const r of results.filter((x) => x.reason)) console.log(`  ${r.target}: not measured: ${r.reason}`);
}
