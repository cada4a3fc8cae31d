// kube/time.ts: metav1.Time on the wire is RFC 3339 with whole seconds.
import { isoSeconds } from '../runtime/utc-time';

export function rfc3339(d: Date): string {
  return isoSeconds(d.getTime());
}
