// kube/time.ts: metav1.Time on the wire is RFC 3339 with whole seconds.
export function rfc3339(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
