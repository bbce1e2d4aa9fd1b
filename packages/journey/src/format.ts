/**
 * A duration for people: "850 µs" below a millisecond, "1.234 ms" below a second, "2.10 s" above.
 * Rounds to the unit shown first, so 999.7 µs reads "1.000 ms", never "1000 µs". Negative
 * durations (clock skew between hosts) keep their sign.
 */
export function formatDuration(us: number): string {
  if (!Number.isFinite(us)) return '? µs';
  if (us < 0) return `-${formatDuration(-us)}`;
  const whole = Math.round(us);
  if (whole < 1000) return `${whole} µs`;
  if (Math.round(us / 1000) < 1000) return `${(us / 1000).toFixed(3)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}
