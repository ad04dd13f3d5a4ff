/**
 * A path on the same host to send a browser back to, or undefined: only "/…", never "//host" or
 * "/\host" (browsers read both as another host), and no control characters.
 */
export function sameHostPath(path: string | undefined): string | undefined {
  if (!path || !path.startsWith("/") || path.startsWith("//") || path.startsWith("/\\")) return undefined;
  if (/[\u0000-\u001f\u007f]/.test(path)) return undefined;
  return path;
}
